"""/api/v1/projects/<project>/policy: one policy noun for a project, with both sets of
options: signatures (require-signed, trusted keys) and scanning (block-on-severity).

Fields left out of a PUT are unchanged. Reading needs a role in the project; changing
needs registry.admin in it. (`/scan-policy` remains the scanning-only view.)
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from wharf import errors
from wharf.api.mgmt.common import api, body, call, ok
from wharf.api.mgmt.signatures import service_of
from wharf.auth.management import Caller
from wharf.auth.principals import project_role_at_least
from wharf.auth.roles import Role
from wharf.auth.services import AuthServices
from wharf.errors import RegistryError


class PolicyUpdate(BaseModel):
    require_signed: bool | None = None
    # PEM texts (SubjectPublicKeyInfo or X.509 certificates); replaces the trusted set.
    trusted_keys: list[str] | None = None
    block_on: str | None = None
    block_pulls: bool | None = None
    allow_unscanned: bool | None = None


def _scanning(request: Request) -> Any:
    return getattr(request.app.state, "scanning", None)


async def _document(request: Request, project: str) -> dict[str, Any]:
    doc: dict[str, Any] = {"project": project,
                           "signatures": await call(service_of(request).policy, project)}
    scanning = _scanning(request)
    if scanning is not None:
        doc["scan"] = await call(scanning.policy, project)
    return doc


@api
async def get_project_policy(request: Request, caller: Caller, _auth: AuthServices) -> Response:
    project = request.path_params["project"]
    if not (caller.principal.is_admin or caller.principal.role_in(project) is not None):
        raise RegistryError(errors.RESOURCE_UNKNOWN, {"project": project})
    return ok(await _document(request, project))


@api
async def set_project_policy(request: Request, caller: Caller, _auth: AuthServices) -> Response:
    """Change the signature and/or scan policy; omitted fields keep their values."""
    project = request.path_params["project"]
    if not (caller.principal.is_admin
            or project_role_at_least(caller.principal, project, Role.ADMIN)):
        raise RegistryError(errors.DENIED, {"reason": f"requires registry.admin in {project}"})
    data = await body(request, PolicyUpdate)
    if data.require_signed is not None or data.trusted_keys is not None:
        await call(service_of(request).set_policy, project, data.require_signed,
                   data.trusted_keys)
    scan_fields = (data.block_on, data.block_pulls, data.allow_unscanned)
    if any(f is not None for f in scan_fields):
        scanning = _scanning(request)
        if scanning is None:
            raise RegistryError(errors.INVALID_REQUEST, {"reason": "scanning is not enabled"})
        current = await call(scanning.policy, project)
        await call(scanning.set_policy, project,
                   data.block_on if data.block_on is not None else current["block_on"],
                   data.block_pulls if data.block_pulls is not None else current["block_pulls"],
                   data.allow_unscanned if data.allow_unscanned is not None
                   else current["allow_unscanned"])
    return ok(await _document(request, project))
