"""What every /api/v1 handler shares: the authenticated caller, bodies, rendering."""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from wharf import errors
from wharf.api.auth import authenticate, services_of
from wharf.api.errors import render
from wharf.auth.management import Caller
from wharf.auth.services import AuthServices
from wharf.durations import parse_duration
from wharf.errors import RegistryError

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[Request], Awaitable[Response]]


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00",
                                                                                     "Z")


def duration(text: str | None) -> timedelta | None:
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise RegistryError(errors.INVALID_REQUEST, {"reason": str(exc)},
                            f"invalid request: {exc}") from exc


def expiry(text: str | None) -> datetime | None:
    """An absolute time (ISO 8601) or a duration from now (`30d`)."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        ttl = duration(text)
        assert ttl is not None
        return datetime.now(UTC) + ttl
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def body(request: Request, model: type[M]) -> M:
    raw = await request.body()
    try:
        return model.model_validate(json.loads(raw or b"{}"))
    except (ValueError, ValidationError) as exc:
        raise RegistryError(errors.INVALID_REQUEST, {"reason": str(exc)[:1000]},
                            "invalid request body") from exc


def ok(data: Any, status: int = 200) -> Response:
    return JSONResponse(data, status_code=status)


def api(handler: Callable[[Request, Caller, AuthServices], Awaitable[Response]]) -> Handler:
    """Authenticate (Basic or Bearer; anonymous callers are asked to log in), then call
    the handler with the caller and the auth services."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        try:
            auth = await authenticate(request)
            caller = await auth.caller()
        except RegistryError as exc:
            return _render(exc)
        if not caller.principal.authenticated:
            return _render(RegistryError(errors.UNAUTHORIZED))
        try:
            return await handler(request, caller, services_of(request))
        except RegistryError as exc:
            return _render(exc)

    return endpoint


def _render(exc: RegistryError) -> Response:
    headers = {"WWW-Authenticate": 'Basic realm="wharf"'} if exc.code.status == 401 else None
    if exc.code is errors.TOO_MANY_REQUESTS:
        headers = {"Retry-After": "60"}
    return render(exc, headers)


def call(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Awaitable[Any]:
    return run_in_threadpool(func, *args, **kwargs)
