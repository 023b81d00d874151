"""Helpers shared by the /v2 handlers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from wharf.registry.service import RegistryService

T = TypeVar("T")


async def read(request: Request, fn: Callable[..., T], *args: Any) -> T:
    """Run a pull-path read: on the event loop when the store answers from a local file
    (a thread hop costs more than the query), else in the thread pool."""
    if registry(request).meta.inline_reads:
        return fn(*args)
    return await run_in_threadpool(fn, *args)


def registry(request: Request) -> RegistryService:
    service: RegistryService = request.app.state.registry
    return service


def name_of(request: Request) -> str:
    name: str = request.path_params["name"]
    return name


def link_header(path: str, n: int, next_last: str | None) -> dict[str, str]:
    """The `Link: rel="next"` header of a page whose last item is `next_last` (None: the
    last page)."""
    if next_last is None:
        return {}
    query = urlencode({"n": n, "last": next_last})
    return {"Link": f'<{path}?{query}>; rel="next"'}
