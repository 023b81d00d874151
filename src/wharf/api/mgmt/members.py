"""/api/v1/projects/{project}/members"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from wharf.api.mgmt.common import api, body, call, iso, ok
from wharf.auth.management import Caller
from wharf.auth.services import AuthServices
from wharf.metadata.iam_store import MemberRow


class MemberAdd(BaseModel):
    username: str
    role: str


def member_json(row: MemberRow) -> dict[str, Any]:
    return {"project": row.project, "username": row.username, "role": row.role,
            "created_at": iso(row.created_at)}


@api
async def list_members(request: Request, caller: Caller, auth: AuthServices) -> Response:
    rows = await call(auth.iam.list_members, caller, request.path_params["project"])
    return ok({"members": [member_json(r) for r in rows]})


@api
async def add_member(request: Request, caller: Caller, auth: AuthServices) -> Response:
    """Give a user a role in the project (or change it); project admins."""
    data = await body(request, MemberAdd)
    row = await call(auth.iam.add_member, caller, request.path_params["project"],
                     data.username, data.role)
    return ok(member_json(row), 201)


@api
async def remove_member(request: Request, caller: Caller, auth: AuthServices) -> Response:
    await call(auth.iam.remove_member, caller, request.path_params["project"],
               request.path_params["username"])
    return Response(status_code=204)
