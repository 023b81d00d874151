"""/api/v1/oidc/issuers, /api/v1/oidc/mappings and /api/v1/signing-keys"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from wharf.api.mgmt.common import api, body, call, iso, ok
from wharf.auth.management import Caller
from wharf.auth.services import AuthServices
from wharf.metadata.iam_store import IssuerRow, MappingRow


class IssuerCreate(BaseModel):
    name: str
    issuer: str
    jwks: dict[str, Any]
    audience: str | None = None


class MappingCreate(BaseModel):
    issuer: str
    project: str
    role: str = "puller"
    subject: str | None = None
    namespace: str | None = None
    service_account: str | None = None


def issuer_json(row: IssuerRow) -> dict[str, Any]:
    return {"name": row.name, "issuer": row.issuer, "audience": row.audience,
            "keys": [k.get("kid") for k in json.loads(row.jwks).get("keys", [])],
            "created_at": iso(row.created_at)}


def mapping_json(row: MappingRow) -> dict[str, Any]:
    return {"id": row.id, "issuer": row.issuer, "project": row.project, "role": row.role,
            "subject": row.subject, "namespace": row.namespace,
            "service_account": row.service_account, "created_at": iso(row.created_at)}


@api
async def list_issuers(_request: Request, caller: Caller, auth: AuthServices) -> Response:
    rows = await call(auth.federation.list_issuers, caller)
    return ok({"issuers": [issuer_json(r) for r in rows]})


@api
async def create_issuer(request: Request, caller: Caller, auth: AuthServices) -> Response:
    """Trust an OIDC issuer: its JWKS is given inline, never fetched."""
    data = await body(request, IssuerCreate)
    row = await call(auth.federation.create_issuer, caller, data.name, data.issuer,
                     data.jwks, data.audience)
    return ok(issuer_json(row), 201)


@api
async def delete_issuer(request: Request, caller: Caller, auth: AuthServices) -> Response:
    await call(auth.federation.delete_issuer, caller, request.path_params["issuer"])
    return Response(status_code=204)


@api
async def list_mappings(_request: Request, caller: Caller, auth: AuthServices) -> Response:
    rows = await call(auth.federation.list_mappings, caller)
    return ok({"mappings": [mapping_json(r) for r in rows]})


@api
async def create_mapping(request: Request, caller: Caller, auth: AuthServices) -> Response:
    """Map identities of an issuer (subject / namespace / service-account globs) to a
    project role."""
    data = await body(request, MappingCreate)
    row = await call(auth.federation.create_mapping, caller, data.issuer, data.project,
                     data.role, subject=data.subject, namespace=data.namespace,
                     service_account=data.service_account)
    return ok(mapping_json(row), 201)


@api
async def delete_mapping(request: Request, caller: Caller, auth: AuthServices) -> Response:
    await call(auth.federation.delete_mapping, caller, int(request.path_params["mapping"]))
    return Response(status_code=204)


@api
async def list_keys(_request: Request, caller: Caller, auth: AuthServices) -> Response:
    rows = await call(auth.federation.list_keys, caller)
    return ok({"keys": [{"kid": r.kid, "algorithm": r.algorithm,
                         "created_at": iso(r.created_at), "retired_at": iso(r.retired_at)}
                        for r in rows]})


@api
async def rotate_key(_request: Request, caller: Caller, auth: AuthServices) -> Response:
    """Sign new tokens with a fresh key; tokens signed with older keys keep verifying."""
    kid = await call(auth.federation.rotate_key, caller)
    return ok({"kid": kid}, 201)
