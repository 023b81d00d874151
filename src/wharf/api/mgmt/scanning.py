"""/api/v1 scanning: reports, SBOMs, scan policies, the allowlist, the advisory database.

Who may do what: reading a report or SBOM needs pull on the repository; a project's scan
policy and allowlist need registry.admin in it; registry-wide allowlist entries need a
system administrator.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from wharf import errors
from wharf.api.mgmt.common import api, body, call, ok
from wharf.auth.management import Caller
from wharf.auth.principals import project_role_at_least
from wharf.auth.roles import PULL, Role
from wharf.auth.services import AuthServices
from wharf.errors import RegistryError
from wharf.scanning.service import ScanService


class PolicyUpdate(BaseModel):
    block_on: str | None = None
    block_pulls: bool = False
    allow_unscanned: bool = False


class AllowlistAdd(BaseModel):
    project: str | None = None
    cve: str
    reason: str
    expires: str


def _scanning(request: Request) -> ScanService:
    service: ScanService = request.app.state.scanning
    return service


def _require_project_admin(caller: Caller, project: str) -> None:
    if not (caller.principal.is_admin
            or project_role_at_least(caller.principal, project, Role.ADMIN)):
        raise RegistryError(errors.DENIED, {"reason": f"requires registry.admin in {project}"})


def _require_system_admin(caller: Caller) -> None:
    if not caller.principal.is_admin:
        raise RegistryError(errors.DENIED, {"reason": "requires a system administrator"})


async def _pullable(request: Request, caller: Caller, auth: AuthServices) -> str:
    name: str = request.path_params["name"]
    if not await call(auth.policy.may, caller.principal, name, PULL):
        raise RegistryError(errors.NAME_UNKNOWN, {"name": name})
    return name


def _expiry(text: str) -> datetime:
    """`2026-08-01` (end of that day is not implied: midnight UTC) or a full ISO time."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise RegistryError(errors.INVALID_REQUEST, {"reason": f"bad expiry {text[:40]!r}"},
                            "invalid request: expires must be a date (YYYY-MM-DD)") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@api
async def get_report(request: Request, caller: Caller, auth: AuthServices) -> Response:
    """The vulnerability report of a manifest (tag or digest), as its project sees it."""
    name = await _pullable(request, caller, auth)
    scanning = _scanning(request)
    digest = await call(scanning.resolve, name, request.path_params["reference"])
    return ok(await call(scanning.report, name, digest))


@api
async def get_sbom(request: Request, caller: Caller, auth: AuthServices) -> Response:
    """A CycloneDX 1.5 JSON SBOM of a manifest (an index: every platform's packages)."""
    name = await _pullable(request, caller, auth)
    scanning = _scanning(request)
    digest = await call(scanning.resolve, name, request.path_params["reference"])
    return ok(await call(scanning.sbom, name, digest))


@api
async def get_policy(request: Request, caller: Caller, _auth: AuthServices) -> Response:
    project = request.path_params["project"]
    if not (caller.principal.is_admin or caller.principal.role_in(project) is not None):
        raise RegistryError(errors.RESOURCE_UNKNOWN, {"project": project})
    return ok(await call(_scanning(request).policy, project))


@api
async def set_policy(request: Request, caller: Caller, _auth: AuthServices) -> Response:
    """Set block-on-severity (`critical`, `high`, …; null: off), pull blocking and whether
    images whose scan failed are accepted; stored images are re-evaluated."""
    project = request.path_params["project"]
    _require_project_admin(caller, project)
    data = await body(request, PolicyUpdate)
    return ok(await call(_scanning(request).set_policy, project, data.block_on,
                         data.block_pulls, data.allow_unscanned))


@api
async def list_allowlist(request: Request, caller: Caller, _auth: AuthServices) -> Response:
    """Entries of `?project=` (or the registry-wide ones), expired ones marked."""
    project = request.query_params.get("project") or None
    if project is not None and not (caller.principal.is_admin
                                    or caller.principal.role_in(project) is not None):
        raise RegistryError(errors.RESOURCE_UNKNOWN, {"project": project})
    return ok({"entries": await call(_scanning(request).list_allowlist, project)})


@api
async def add_allowlist(request: Request, caller: Caller, _auth: AuthServices) -> Response:
    data = await body(request, AllowlistAdd)
    if data.project:
        _require_project_admin(caller, data.project)
    else:
        _require_system_admin(caller)
    entry = await call(_scanning(request).add_allowlist, data.project, data.cve, data.reason,
                       _expiry(data.expires), caller.principal.name)
    return ok(entry, 201)


@api
async def remove_allowlist(request: Request, caller: Caller, _auth: AuthServices) -> Response:
    text = request.path_params["entry"]
    if not text.isdigit():
        raise RegistryError(errors.RESOURCE_UNKNOWN, {"allowlist": text[:20]})
    scanning = _scanning(request)
    row = await call(scanning.allowlist_entry, int(text))
    if row.project:
        _require_project_admin(caller, row.project)
    else:
        _require_system_admin(caller)
    await call(scanning.remove_allowlist, int(text))
    return Response(status_code=204)


@api
async def vulndb_status(request: Request, _caller: Caller, _auth: AuthServices) -> Response:
    """Advisory sources, counts and age."""
    status = await call(_scanning(request).vulndb.status)
    return ok(status.to_json())


@api
async def scan_metrics(request: Request, _caller: Caller, _auth: AuthServices) -> Response:
    """Prometheus text: open CRITICAL findings over stored images (allowlisted excluded)."""
    count = await call(_scanning(request).critical_findings)
    text = ("# HELP registry_scan_critical_findings Open CRITICAL findings in stored images.\n"
            "# TYPE registry_scan_critical_findings gauge\n"
            f"registry_scan_critical_findings {count}\n")
    return PlainTextResponse(text)
