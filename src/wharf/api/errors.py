"""Rendering every failure in the OCI error format."""

from __future__ import annotations

import logging

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from wharf import errors
from wharf.errors import RegistryError

log = logging.getLogger("wharf.api")


def render(error: RegistryError, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(error.body(), status_code=error.code.status, headers=headers)


async def registry_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RegistryError)
    headers = None
    if exc.code is errors.RANGE_INVALID and isinstance(exc.detail, dict):
        offset = exc.detail.get("offset")
        if isinstance(offset, int):
            # The client resumes from the Range we report (distribution-spec, chunked upload).
            headers = {"Range": f"0-{max(offset - 1, 0)}",
                       "Location": request.url.path}
        size = exc.detail.get("size")
        if isinstance(size, int):
            headers = {"Content-Range": f"bytes */{size}"}
    return render(exc, headers)


async def http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = errors.UNSUPPORTED if exc.status_code == 405 else errors.NOT_FOUND
    return render(RegistryError(code))


async def database_error(request: Request, exc: Exception) -> Response:
    # A dropped connection or a locked database is transient: the client may retry.
    log.warning("database unavailable during %s %s: %s", request.method, request.url.path, exc)
    return render(RegistryError(errors.UNAVAILABLE), {"Retry-After": "1"})


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error during %s %s", request.method, request.url.path,
                  exc_info=exc)
    return JSONResponse({"errors": [{"code": "UNKNOWN", "message": "internal server error"}]},
                        status_code=500)


HANDLERS = {
    RegistryError: registry_error,
    HTTPException: http_error,
    DBAPIError: database_error,
    # The connection pool stayed exhausted (the database is slow or away): transient too.
    PoolTimeoutError: database_error,
    Exception: unexpected_error,
}
