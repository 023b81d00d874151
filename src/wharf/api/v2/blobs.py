"""GET/HEAD/DELETE /v2/<name>/blobs/<digest>."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from wharf.api.streaming import byte_range, threaded
from wharf.api.v2.common import name_of, read, registry


async def get_blob(request: Request) -> Response:
    service = registry(request)
    info = await read(request, service.stat_blob, name_of(request),
                      request.path_params["digest"])
    headers = {"Docker-Content-Digest": str(info.digest), "Accept-Ranges": "bytes",
               "Content-Type": "application/octet-stream",
               "ETag": f'"{info.digest}"', "Cache-Control": "max-age=31536000"}
    wanted = byte_range(request.headers.get("range"), info.size)
    status, offset, length = 200, 0, info.size
    if wanted is not None:
        status, offset, length = 206, wanted[0], wanted[1] - wanted[0] + 1
        headers["Content-Range"] = f"bytes {wanted[0]}-{wanted[1]}/{info.size}"
    headers["Content-Length"] = str(length)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers)
    redirect = await run_in_threadpool(service.blob_redirect, info)
    if redirect is not None:
        return RedirectResponse(redirect, status_code=307,
                                headers={"Docker-Content-Digest": str(info.digest)})
    chunks = service.read_blob(info, offset, length)
    return StreamingResponse(threaded(chunks), status_code=status, headers=headers)


async def delete_blob(request: Request) -> Response:
    await run_in_threadpool(registry(request).delete_blob, name_of(request),
                            request.path_params["digest"])
    return Response(status_code=202, headers={"Content-Length": "0"})
