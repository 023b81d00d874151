"""Helpers shared by the /v2 handlers."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request

from wharf.registry.service import Page, RegistryService


def registry(request: Request) -> RegistryService:
    service: RegistryService = request.app.state.registry
    return service


def name_of(request: Request) -> str:
    name: str = request.path_params["name"]
    return name


def link_header(path: str, n: int, page: Page) -> dict[str, str]:
    if page.next_last is None:
        return {}
    query = urlencode({"n": n, "last": page.next_last})
    return {"Link": f'<{path}?{query}>; rel="next"'}
