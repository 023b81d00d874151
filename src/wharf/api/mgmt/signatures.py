"""/api/v1 signatures: an image's cosign and Notary signatures, and signed-pull counts.

Listing an image's signatures needs pull on the repository; a project's counts need a
role in it; the registry-wide counts need a system administrator.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from wharf import errors
from wharf.api.mgmt.common import api, call, ok
from wharf.auth.management import Caller
from wharf.auth.roles import PULL
from wharf.auth.services import AuthServices
from wharf.errors import RegistryError
from wharf.signatures.service import SignatureService


def service_of(request: Request) -> SignatureService:
    service: SignatureService = request.app.state.signatures
    return service


@api
async def list_signatures(request: Request, caller: Caller, auth: AuthServices) -> Response:
    """Signatures of an image (tag or digest): cosign tag-scheme and referrers, Notary
    referrers, each verified against the project's trusted keys."""
    name: str = request.path_params["name"]
    if not await call(auth.policy.may, caller.principal, name, PULL):
        raise RegistryError(errors.NAME_UNKNOWN, {"name": name})
    return ok(await call(service_of(request).signatures, name,
                         request.path_params["reference"]))


@api
async def pull_stats(request: Request, caller: Caller, _auth: AuthServices) -> Response:
    """Pulls of signed and unsigned manifests (`registry.signed_pulls_pct`), for
    `?project=` or, for system administrators, the whole registry."""
    project = request.query_params.get("project") or None
    principal = caller.principal
    if project is None and not principal.is_admin:
        raise RegistryError(errors.DENIED, {"reason": "requires a system administrator; "
                                                      "give ?project="})
    if project is not None and not (principal.is_admin or principal.role_in(project)):
        raise RegistryError(errors.RESOURCE_UNKNOWN, {"project": project})
    return ok(await call(service_of(request).pull_stats, project))
