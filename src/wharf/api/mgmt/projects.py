"""/api/v1/projects"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from wharf.api.mgmt.common import api, body, call, iso, ok
from wharf.auth.management import Caller, ProjectInfo
from wharf.auth.services import AuthServices


class ProjectCreate(BaseModel):
    name: str
    public: bool = False


class ProjectUpdate(BaseModel):
    public: bool


def project_json(info: ProjectInfo) -> dict[str, Any]:
    return {"name": info.project.name, "public": info.project.public,
            "repositories": info.repositories,
            "role": info.role.label if info.role else None,
            "created_at": iso(info.project.created_at)}


@api
async def list_projects(_request: Request, caller: Caller, auth: AuthServices) -> Response:
    """Projects the caller may see: public ones and those it has a role in."""
    infos = await call(auth.iam.list_projects, caller)
    return ok({"projects": [project_json(i) for i in infos]})


@api
async def create_project(request: Request, caller: Caller, auth: AuthServices) -> Response:
    """Create a project (system administrators)."""
    data = await body(request, ProjectCreate)
    row = await call(auth.iam.create_project, caller, data.name, data.public)
    info = await call(auth.iam.get_project, caller, row.name)
    return ok(project_json(info), 201)


@api
async def get_project(request: Request, caller: Caller, auth: AuthServices) -> Response:
    info = await call(auth.iam.get_project, caller, request.path_params["project"])
    return ok(project_json(info))


@api
async def update_project(request: Request, caller: Caller, auth: AuthServices) -> Response:
    """Make a project public (anonymous pull) or private (project admins)."""
    data = await body(request, ProjectUpdate)
    info = await call(auth.iam.update_project, caller, request.path_params["project"],
                      data.public)
    return ok(project_json(info))


@api
async def delete_project(request: Request, caller: Caller, auth: AuthServices) -> Response:
    """Delete a project; refused while it has repositories unless `?force=true`."""
    force = request.query_params.get("force", "").lower() in ("1", "true", "yes")
    await call(auth.iam.delete_project, caller, request.path_params["project"], force)
    return Response(status_code=204)
