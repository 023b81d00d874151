"""/api/v1/users and /api/v1/me"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from wharf.api.mgmt.common import api, body, call, iso, ok
from wharf.auth.management import Caller
from wharf.auth.services import AuthServices
from wharf.metadata.iam_store import UserRow


class UserCreate(BaseModel):
    username: str
    password: str
    admin: bool = False


def user_json(row: UserRow) -> dict[str, Any]:
    return {"username": row.username, "admin": row.is_admin, "disabled": row.disabled,
            "created_at": iso(row.created_at)}


@api
async def whoami(_request: Request, caller: Caller, _auth: AuthServices) -> Response:
    """The authenticated principal and its project roles."""
    p = caller.principal
    return ok({"name": p.name, "kind": p.kind, "admin": p.is_admin,
               "roles": {project: role.label for project, role in sorted(p.roles.items())}})


@api
async def list_users(_request: Request, caller: Caller, auth: AuthServices) -> Response:
    rows = await call(auth.iam.list_users, caller)
    return ok({"users": [user_json(r) for r in rows]})


@api
async def create_user(request: Request, caller: Caller, auth: AuthServices) -> Response:
    """Create a user (system administrators)."""
    data = await body(request, UserCreate)
    row = await call(auth.iam.create_user, caller, data.username, data.password, data.admin)
    return ok(user_json(row), 201)


@api
async def disable_user(request: Request, caller: Caller, auth: AuthServices) -> Response:
    row = await call(auth.iam.set_user_disabled, caller, request.path_params["username"], True)
    return ok(user_json(row))
