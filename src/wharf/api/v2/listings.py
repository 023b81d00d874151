"""Tag list, catalog and referrers."""

from __future__ import annotations

import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from wharf.api.auth import visible_projects
from wharf.api.v2.common import link_header, name_of, read, registry
from wharf.oci import mediatypes as mt
from wharf.registry.service import page_size


async def list_tags(request: Request) -> Response:
    name = name_of(request)
    n = page_size(request.query_params.get("n"))
    page = await read(request, registry(request).list_tags, name, n,
                      request.query_params.get("last"))
    # The tag names arrive encoded (see MetadataStore.tag_page); the same compact JSON
    # JSONResponse would write.
    body = f'{{"name":{json.dumps(name, ensure_ascii=False)},"tags":{page.names_json}}}'
    return Response(body, media_type="application/json",
                    headers=link_header(f"/v2/{name}/tags/list", n, page.next_last))


async def catalog(request: Request) -> Response:
    n = page_size(request.query_params.get("n"), default=100)
    page = await run_in_threadpool(registry(request).catalog, n,
                                   request.query_params.get("last"),
                                   await visible_projects(request))
    return JSONResponse({"repositories": page.items},
                        headers=link_header("/v2/_catalog", n, page.next_last))


async def referrers(request: Request) -> Response:
    artifact_type = request.query_params.get("artifactType")
    index = await run_in_threadpool(registry(request).referrers, name_of(request),
                                    request.path_params["digest"], artifact_type)
    headers = {"OCI-Filters-Applied": "artifactType"} if artifact_type else {}
    return JSONResponse(index, media_type=mt.OCI_INDEX, headers=headers)
