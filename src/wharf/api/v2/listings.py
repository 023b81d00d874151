"""Tag list, catalog and referrers."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from wharf.api.auth import visible_projects
from wharf.api.v2.common import link_header, name_of, registry
from wharf.oci import mediatypes as mt
from wharf.registry.service import page_size


async def list_tags(request: Request) -> Response:
    name = name_of(request)
    n = page_size(request.query_params.get("n"))
    page = await run_in_threadpool(registry(request).list_tags, name, n,
                                   request.query_params.get("last"))
    return JSONResponse({"name": name, "tags": page.items},
                        headers=link_header(f"/v2/{name}/tags/list", n, page))


async def catalog(request: Request) -> Response:
    n = page_size(request.query_params.get("n"), default=100)
    page = await run_in_threadpool(registry(request).catalog, n,
                                   request.query_params.get("last"),
                                   await visible_projects(request))
    return JSONResponse({"repositories": page.items},
                        headers=link_header("/v2/_catalog", n, page))


async def referrers(request: Request) -> Response:
    artifact_type = request.query_params.get("artifactType")
    index = await run_in_threadpool(registry(request).referrers, name_of(request),
                                    request.path_params["digest"], artifact_type)
    headers = {"OCI-Filters-Applied": "artifactType"} if artifact_type else {}
    return JSONResponse(index, media_type=mt.OCI_INDEX, headers=headers)
