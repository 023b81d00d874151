"""The one route table."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from wharf.api.v2 import base, blobs, listings, manifests, uploads

_NAME = "/v2/{name:path}"

ROUTES: list[BaseRoute] = [
    Route("/v2/", base.version_check, methods=["GET"]),
    Route("/v2", base.version_check, methods=["GET"]),
    Route("/v2/_catalog", listings.catalog, methods=["GET"]),
    Route(f"{_NAME}/blobs/uploads/", uploads.start_upload, methods=["POST"]),
    Route(f"{_NAME}/blobs/uploads", uploads.start_upload, methods=["POST"]),
    Route(f"{_NAME}/blobs/uploads/{{session}}", uploads.upload_status, methods=["GET"]),
    Route(f"{_NAME}/blobs/uploads/{{session}}", uploads.patch_upload, methods=["PATCH"]),
    Route(f"{_NAME}/blobs/uploads/{{session}}", uploads.finish_upload, methods=["PUT"]),
    Route(f"{_NAME}/blobs/uploads/{{session}}", uploads.cancel_upload, methods=["DELETE"]),
    Route(f"{_NAME}/blobs/{{digest}}", blobs.get_blob, methods=["GET", "HEAD"]),
    Route(f"{_NAME}/blobs/{{digest}}", blobs.delete_blob, methods=["DELETE"]),
    Route(f"{_NAME}/manifests/{{reference}}", manifests.get_manifest, methods=["GET", "HEAD"]),
    Route(f"{_NAME}/manifests/{{reference}}", manifests.put_manifest, methods=["PUT"]),
    Route(f"{_NAME}/manifests/{{reference}}", manifests.delete_manifest, methods=["DELETE"]),
    Route(f"{_NAME}/tags/list", listings.list_tags, methods=["GET"]),
    Route(f"{_NAME}/referrers/{{digest}}", listings.referrers, methods=["GET"]),
]
