"""/api/v1/projects/{project}/retention: a project's retention policy, and runs of it.

Reading the policy needs a role in the project; changing or running it, registry.admin.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from wharf import errors
from wharf.api.mgmt.common import api, body, call, duration, iso, ok
from wharf.auth.management import Caller
from wharf.auth.roles import Role
from wharf.auth.services import AuthServices
from wharf.errors import RegistryError
from wharf.lifecycle.service import LifecycleService
from wharf.metadata.lifecycle_store import PolicyRow


class PolicyUpdate(BaseModel):
    keep_last: int | None = None
    # Comma-separated globs, or a list of them.
    keep_tagged: str | list[str] | None = None
    delete_untagged_older_than: str | None = None


class RunRequest(BaseModel):
    dry_run: bool = False


def lifecycle_of(request: Request) -> LifecycleService:
    service: LifecycleService = request.app.state.lifecycle
    return service


def require_role(caller: Caller, project: str, role: Role) -> None:
    """`role` or above in `project`; a project the caller has no role in is unknown to it
    (as in wharf.auth.management)."""
    held = caller.principal.role_in(project)
    if held is None:
        raise RegistryError(errors.RESOURCE_UNKNOWN, {"project": project},
                            f"project {project!r} not found")
    if held < role:
        raise RegistryError(errors.DENIED, {"reason": f"requires {role.label} in {project}"})


def policy_json(project: str, row: PolicyRow | None) -> dict[str, Any]:
    if row is None:
        return {"project": project, "keep_last": None, "keep_tagged": [],
                "delete_untagged_older_than": None, "updated_at": None, "updated_by": None,
                "last_run_at": None, "configured": False}
    after = row.delete_untagged_after_seconds
    return {"project": project, "keep_last": row.keep_last,
            "keep_tagged": [g for g in (row.keep_tagged or "").split(",") if g],
            "delete_untagged_older_than": None if after is None else f"{after}s",
            "updated_at": iso(row.updated_at), "updated_by": row.updated_by,
            "last_run_at": iso(row.last_run_at), "configured": True}


@api
async def get_retention_policy(request: Request, caller: Caller, _auth: AuthServices) -> Response:
    project: str = request.path_params["project"]
    require_role(caller, project, Role.VIEWER)
    row = await call(lifecycle_of(request).get_policy, project)
    return ok(policy_json(project, row))


@api
async def set_retention_policy(request: Request, caller: Caller, _auth: AuthServices) -> Response:
    """Set the whole policy (rules left out are off)."""
    project: str = request.path_params["project"]
    require_role(caller, project, Role.ADMIN)
    data = await body(request, PolicyUpdate)
    globs = ",".join(data.keep_tagged) if isinstance(data.keep_tagged, list) else data.keep_tagged
    row = await call(lifecycle_of(request).set_policy, project, keep_last=data.keep_last,
                     keep_tagged=globs,
                     delete_untagged_older_than=duration(data.delete_untagged_older_than),
                     actor=caller.principal.name)
    return ok(policy_json(project, row))


@api
async def delete_retention_policy(request: Request, caller: Caller,
                                  _auth: AuthServices) -> Response:
    project: str = request.path_params["project"]
    require_role(caller, project, Role.ADMIN)
    await call(lifecycle_of(request).clear_policy, project)
    return Response(status_code=204)


@api
async def run_retention(request: Request, caller: Caller, _auth: AuthServices) -> Response:
    """Apply the policy now; `dry_run` lists exactly what a real run would remove."""
    project: str = request.path_params["project"]
    require_role(caller, project, Role.ADMIN)
    data = await body(request, RunRequest)
    result = await call(lifecycle_of(request).run_retention, project, dry_run=data.dry_run)
    return ok(result.as_dict())
