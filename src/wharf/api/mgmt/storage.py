"""/api/v1/projects/{project}/storage and /api/v1/images: what a project stores.

Both need a role in the project (any role: they show sizes and digests, not content).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from wharf import errors
from wharf.api.mgmt.common import api, call, duration, iso, ok
from wharf.api.mgmt.retention import lifecycle_of, require_role
from wharf.auth.management import Caller
from wharf.auth.roles import Role
from wharf.auth.services import AuthServices
from wharf.errors import RegistryError
from wharf.lifecycle.reports import ImageRow
from wharf.oci.names import project_of


def image_json(row: ImageRow) -> dict[str, Any]:
    return {"repository": row.repository, "digest": row.digest, "tags": row.tags,
            "media_type": row.media_type, "artifact_type": row.artifact_type,
            "size": row.size, "pushed_at": iso(row.pushed_at), "untagged": row.untagged}


@api
async def storage_report(request: Request, caller: Caller, _auth: AuthServices) -> Response:
    project: str = request.path_params["project"]
    require_role(caller, project, Role.VIEWER)
    report = await call(lifecycle_of(request).storage_report, project)
    return ok(asdict(report))


@api
async def list_images(request: Request, caller: Caller, _auth: AuthServices) -> Response:
    """`?repo=acme/web` or `?project=acme`, with `untagged=true` and `older_than=7d`."""
    params = request.query_params
    repo, project = params.get("repo"), params.get("project")
    if (repo is None) == (project is None):
        raise RegistryError(errors.INVALID_REQUEST, {"reason": "give repo or project"},
                            "invalid request: give repo or project")
    require_role(caller, project if project is not None else project_of(repo or ""),
                 Role.VIEWER)
    untagged = params.get("untagged", "").lower() in ("1", "true", "yes")
    rows = await call(lifecycle_of(request).list_images, project=project, repository=repo,
                      untagged_only=untagged, older_than=duration(params.get("older_than")))
    return ok({"images": [image_json(r) for r in rows]})
