"""/api/v1/projects/{project}/tokens and /api/v1/tokens/{id}"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from wharf.api.mgmt.common import api, body, call, duration, iso, ok
from wharf.auth.management import Caller
from wharf.auth.services import AuthServices
from wharf.metadata.iam_store import TokenRow


class TokenCreate(BaseModel):
    role: str = "puller"
    # A duration: `30d`, `12h`; at most the configured maximum (90 days by default).
    ttl: str = "30d"
    description: str | None = None


class TokenRotate(BaseModel):
    ttl: str | None = None


def token_json(row: TokenRow, token: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"id": row.id, "project": row.project, "role": row.role,
                            "owner": row.username, "description": row.description,
                            "expires_at": iso(row.expires_at),
                            "revoked": row.revoked_at is not None,
                            "revoked_at": iso(row.revoked_at),
                            "created_at": iso(row.created_at)}
    if token is not None:
        data["token"] = token
    return data


@api
async def list_tokens(request: Request, caller: Caller, auth: AuthServices) -> Response:
    """The caller's tokens in the project (all of them for project admins)."""
    rows = await call(auth.iam.list_tokens, caller, request.path_params["project"])
    return ok({"tokens": [token_json(r) for r in rows]})


@api
async def create_token(request: Request, caller: Caller, auth: AuthServices) -> Response:
    """A project-scoped API token; the token is in this response only."""
    data = await body(request, TokenCreate)
    ttl = duration(data.ttl)
    assert ttl is not None
    created = await call(auth.iam.create_token, caller, request.path_params["project"],
                         data.role, ttl, data.description)
    return ok(token_json(created.row, created.secret), 201)


@api
async def revoke_token(request: Request, caller: Caller, auth: AuthServices) -> Response:
    row = await call(auth.iam.revoke_token, caller, request.path_params["token"])
    return ok(token_json(row))


@api
async def rotate_token(request: Request, caller: Caller, auth: AuthServices) -> Response:
    """A new secret and a fresh expiry for the same token; the old secret stops working."""
    data = await body(request, TokenRotate)
    created = await call(auth.iam.rotate_token, caller, request.path_params["token"],
                         duration(data.ttl))
    return ok(token_json(created.row, created.secret))
