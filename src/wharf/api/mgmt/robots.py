"""/api/v1/projects/{project}/robots"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from wharf.api.mgmt.common import api, body, call, expiry, iso, ok
from wharf.auth.management import Caller
from wharf.auth.services import AuthServices
from wharf.metadata.iam_store import RobotRow


class RobotCreate(BaseModel):
    name: str
    role: str = "puller"
    # ISO 8601 time or a duration from now (`90d`); none: never expires.
    expires: str | None = None
    description: str | None = None


class RobotRotate(BaseModel):
    expires: str | None = None


def robot_json(row: RobotRow, secret: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"name": row.name, "project": row.project, "role": row.role,
                            "disabled": row.disabled, "expires_at": iso(row.expires_at),
                            "description": row.description,
                            "created_at": iso(row.created_at)}
    if secret is not None:
        data["secret"] = secret
    return data


@api
async def list_robots(request: Request, caller: Caller, auth: AuthServices) -> Response:
    rows = await call(auth.iam.list_robots, caller, request.path_params["project"])
    return ok({"robots": [robot_json(r) for r in rows]})


@api
async def create_robot(request: Request, caller: Caller, auth: AuthServices) -> Response:
    """Create `robot$<project>+<name>`; the secret is in this response only."""
    data = await body(request, RobotCreate)
    created = await call(auth.iam.create_robot, caller, request.path_params["project"],
                         data.name, data.role, expires_at=expiry(data.expires),
                         description=data.description)
    return ok(robot_json(created.row, created.secret), 201)


@api
async def disable_robot(request: Request, caller: Caller, auth: AuthServices) -> Response:
    row = await call(auth.iam.set_robot_disabled, caller, request.path_params["project"],
                     request.path_params["robot"], True)
    return ok(robot_json(row))


@api
async def enable_robot(request: Request, caller: Caller, auth: AuthServices) -> Response:
    row = await call(auth.iam.set_robot_disabled, caller, request.path_params["project"],
                     request.path_params["robot"], False)
    return ok(robot_json(row))


@api
async def rotate_robot(request: Request, caller: Caller, auth: AuthServices) -> Response:
    """A new secret (shown once); the old one stops working at once."""
    data = await body(request, RobotRotate)
    created = await call(auth.iam.rotate_robot, caller, request.path_params["project"],
                         request.path_params["robot"], expiry(data.expires))
    return ok(robot_json(created.row, created.secret))


@api
async def delete_robot(request: Request, caller: Caller, auth: AuthServices) -> Response:
    await call(auth.iam.delete_robot, caller, request.path_params["project"],
               request.path_params["robot"])
    return Response(status_code=204)
