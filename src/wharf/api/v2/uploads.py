"""Blob uploads: /v2/<name>/blobs/uploads/[<session>]."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from wharf import errors
from wharf.api.auth import may_pull
from wharf.api.streaming import UNPARSABLE_RANGE, body_chunks, chunk_range, content_length
from wharf.api.v2.common import name_of, registry
from wharf.errors import RegistryError
from wharf.registry.service import BlobInfo
from wharf.registry.uploads import UploadState


def _session_headers(name: str, state: UploadState) -> dict[str, str]:
    return {
        "Location": f"/v2/{name}/blobs/uploads/{state.id}",
        "Docker-Upload-UUID": state.id,
        "Range": f"0-{max(state.offset - 1, 0)}",
        "Content-Length": "0",
    }


def _created(name: str, info: BlobInfo) -> Response:
    return Response(status_code=201, headers={
        "Location": f"/v2/{name}/blobs/{info.digest}",
        "Docker-Content-Digest": str(info.digest),
        "Content-Length": "0",
    })


async def start_upload(request: Request) -> Response:
    service, name = registry(request), name_of(request)
    params = request.query_params
    # Mounting needs pull on the source; without it this is an ordinary upload (spec).
    if "mount" in params and await may_pull(request, params.get("from")):
        mounted = await run_in_threadpool(service.mount_blob, name, params["mount"],
                                          params.get("from"))
        if mounted is not None:
            return _created(name, mounted)
    elif "digest" in params:
        info = await service.upload_monolithic(name, params["digest"], body_chunks(request),
                                               content_length(request))
        return _created(name, info)
    state = await run_in_threadpool(service.start_upload, name)
    return Response(status_code=202, headers=_session_headers(name, state))


async def upload_status(request: Request) -> Response:
    name = name_of(request)
    state = await run_in_threadpool(registry(request).upload_status, name,
                                    request.path_params["session"])
    return Response(status_code=204, headers=_session_headers(name, state))


async def patch_upload(request: Request) -> Response:
    name = name_of(request)
    start = _chunk_start(request)
    state = await registry(request).upload_chunk(
        name, request.path_params["session"], body_chunks(request), start,
        content_length(request))
    return Response(status_code=202, headers=_session_headers(name, state))


async def finish_upload(request: Request) -> Response:
    name = name_of(request)
    digest = request.query_params.get("digest", "")
    info = await registry(request).finish_upload(
        name, request.path_params["session"], digest, body_chunks(request), _chunk_start(request))
    return _created(name, info)


async def cancel_upload(request: Request) -> Response:
    await run_in_threadpool(registry(request).cancel_upload, name_of(request),
                            request.path_params["session"])
    return Response(status_code=204)


def _chunk_start(request: Request) -> int | None:
    rng = chunk_range(request)
    if rng is None or rng == UNPARSABLE_RANGE:
        return None if rng is None else rng[0]
    length = content_length(request)
    if length is not None and length != rng[1] - rng[0] + 1:
        raise RegistryError(errors.RANGE_INVALID, {"content_range": f"{rng[0]}-{rng[1]}",
                                                    "content_length": length})
    return rng[0]
