"""/api/v1/openapi.json, generated from the route table and the request models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from wharf.api.mgmt import gc, members, oidc, policy, projects, retention, robots, tokens, users
from wharf.errors import all_codes

BODIES: dict[str, type[BaseModel]] = {
    "create_project": projects.ProjectCreate, "update_project": projects.ProjectUpdate,
    "add_member": members.MemberAdd, "create_robot": robots.RobotCreate,
    "rotate_robot": robots.RobotRotate, "create_token": tokens.TokenCreate,
    "rotate_token": tokens.TokenRotate, "create_user": users.UserCreate,
    "create_issuer": oidc.IssuerCreate, "create_mapping": oidc.MappingCreate,
    "set_project_policy": policy.PolicyUpdate,
    "set_retention_policy": retention.PolicyUpdate, "run_retention": retention.RunRequest,
    "start_gc_run": gc.GcRequest,
}
PREFIX = "/api/v1"


def _error_schema() -> dict[str, Any]:
    codes = sorted({c.code for c in all_codes()})
    return {"type": "object", "properties": {"errors": {"type": "array", "items": {
        "type": "object", "properties": {"code": {"type": "string", "enum": codes},
                                         "message": {"type": "string"},
                                         "detail": {}}}}}}


def document(routes: list[Any]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {"Error": _error_schema()}
    for route in routes:
        if not isinstance(route, Route) or not route.path.startswith(PREFIX):
            continue
        name = route.endpoint.__name__
        doc = (route.endpoint.__doc__ or name.replace("_", " ")).strip()
        params = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                  for p in re.findall(r"{(\w+)}", route.path)]
        for method in sorted((route.methods or set()) - {"HEAD"}):
            op: dict[str, Any] = {
                "operationId": name, "summary": doc.splitlines()[0], "parameters": params,
                "security": [] if name == "openapi" else [{"basic": []}, {"bearer": []}],
                "responses": {"2XX": {"description": "success", "content": {
                    "application/json": {"schema": {"type": "object"}}}},
                    "default": {"description": "error", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Error"}}}}}}
            model = BODIES.get(name)
            if model is not None:
                schemas[model.__name__] = model.model_json_schema()
                op["requestBody"] = {"required": True, "content": {"application/json": {
                    "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}
            paths.setdefault(route.path, {})[method.lower()] = op
    return {"openapi": "3.1.0",
            "info": {"title": "wharf management API", "version": "1"},
            "paths": paths,
            "components": {"schemas": schemas, "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic",
                          "description": "user or robot credentials; an API token as the "
                                         "password with any username"},
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "a registry token from /auth/token"}}}}


async def openapi(request: Request) -> Response:
    """The OpenAPI 3.1 description of /api/v1."""
    return JSONResponse(document(list(request.app.routes)))
