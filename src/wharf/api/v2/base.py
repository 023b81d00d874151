from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

API_VERSION = {"Docker-Distribution-API-Version": "registry/2.0"}


async def version_check(_request: Request) -> Response:
    return JSONResponse({}, headers=API_VERSION)
