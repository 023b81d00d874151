"""/api/v1/gc/runs: request a garbage-collection run, and follow it.

A run over one project needs registry.admin in it; over every project, a system
administrator. Runs execute as `gc.run` jobs; the response names the run to poll.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from wharf import errors
from wharf.api.mgmt.common import api, body, call, duration, iso, ok
from wharf.api.mgmt.retention import lifecycle_of, require_role
from wharf.auth.management import Caller
from wharf.auth.roles import Role
from wharf.auth.services import AuthServices
from wharf.errors import RegistryError
from wharf.metadata.lifecycle_store import GcRunRow


class GcRequest(BaseModel):
    project: str | None = None
    # Overrides the configured grace period for this run (`0s`: everything unreferenced).
    grace: str | None = None
    dry_run: bool = False


def _require_scope(caller: Caller, project: str | None) -> None:
    if project is not None:
        require_role(caller, project, Role.ADMIN)
    elif not caller.principal.is_admin:
        raise RegistryError(errors.DENIED, {"reason": "a run over every project requires "
                                                      "a system administrator"})


def run_json(run: GcRunRow) -> dict[str, Any]:
    return {"id": run.id, "project": run.project, "status": run.status, "dry_run": run.dry_run,
            "grace_seconds": run.grace_seconds, "phase": run.phase,
            "requested_by": run.requested_by,
            "summary": json.loads(run.summary) if run.summary else None, "error": run.error,
            "created_at": iso(run.created_at), "started_at": iso(run.started_at),
            "updated_at": iso(run.updated_at), "finished_at": iso(run.finished_at)}


@api
async def start_gc_run(request: Request, caller: Caller, _auth: AuthServices) -> Response:
    data = await body(request, GcRequest)
    _require_scope(caller, data.project)
    run = await call(lifecycle_of(request).request_gc, data.project, duration(data.grace),
                     data.dry_run, caller.principal.name)
    return ok(run_json(run), 202)


@api
async def list_gc_runs(request: Request, caller: Caller, _auth: AuthServices) -> Response:
    project = request.query_params.get("project")
    _require_scope(caller, project)
    runs = await call(lifecycle_of(request).gc_runs, project)
    return ok({"runs": [run_json(r) for r in runs]})


@api
async def get_gc_run(request: Request, caller: Caller, _auth: AuthServices) -> Response:
    raw: str = request.path_params["run"]
    if not raw.isdigit():
        raise RegistryError(errors.RESOURCE_UNKNOWN, {"gc run": raw[:32]}, "gc run not found")
    run = await call(lifecycle_of(request).gc_run, int(raw))
    _require_scope(caller, run.project)
    return ok(run_json(run))
