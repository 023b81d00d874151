"""PUT/GET/HEAD/DELETE /v2/<name>/manifests/<reference>."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from wharf import errors
from wharf.api.streaming import read_limited
from wharf.api.v2.common import name_of, read, registry
from wharf.api.v2.pull_policy import gate
from wharf.errors import RegistryError
from wharf.metadata.store import StoredManifest
from wharf.oci import mediatypes as mt
from wharf.oci.manifest import MAX_MANIFEST_BYTES


def _accepts(accept: str | None, media_type: str) -> bool:
    """Whether a client's Accept admits the stored type (Distribution's rule for OCI types)."""
    if not accept:
        return True
    offered = {part.split(";", 1)[0].strip().lower() for part in accept.split(",")}
    if media_type in offered or offered & {"*/*", "application/*", "application/json"}:
        return True
    # Clients that name no manifest type at all get what is stored.
    return not offered & mt.MANIFESTS


async def put_manifest(request: Request) -> Response:
    name, reference = name_of(request), request.path_params["reference"]
    body = await read_limited(request, MAX_MANIFEST_BYTES)
    result = await run_in_threadpool(registry(request).put_manifest, name, reference, body,
                                     request.headers.get("content-type"))
    headers = {"Location": f"/v2/{name}/manifests/{result.digest}",
               "Docker-Content-Digest": str(result.digest), "Content-Length": "0"}
    if result.subject is not None:
        headers["OCI-Subject"] = str(result.subject)
    return Response(status_code=201, headers=headers)


async def get_manifest(request: Request) -> Response:
    name, reference = name_of(request), request.path_params["reference"]
    check = gate(request, name)

    def fetch() -> StoredManifest:
        stored = registry(request).get_manifest(name, reference)
        if check is not None:  # the signature policy, in the same call
            check(stored)
        return stored

    stored = await read(request, fetch)
    # Clients (skopeo, podman) send one Accept header per media type.
    if not _accepts(", ".join(request.headers.getlist("accept")), stored.media_type):
        raise RegistryError(errors.MANIFEST_UNKNOWN, {"media_type": stored.media_type},
                            f"manifest is {stored.media_type}, which the Accept header "
                            "does not allow")
    headers = {"Content-Type": stored.media_type, "Docker-Content-Digest": stored.digest,
               "ETag": f'"{stored.digest}"', "Content-Length": str(len(stored.body))}
    if request.method == "HEAD":
        return Response(headers=headers)
    return Response(stored.body, headers=headers)


async def delete_manifest(request: Request) -> Response:
    await run_in_threadpool(registry(request).delete_manifest, name_of(request),
                            request.path_params["reference"])
    return Response(status_code=202, headers={"Content-Length": "0"})
