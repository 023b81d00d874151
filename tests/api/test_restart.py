"""State that must survive a server restart: upload sessions mid-way, pushed content."""

from __future__ import annotations

import httpx

from tests.support.oci import (
    OCI_MANIFEST,
    push_image,
    random_bytes,
    sha256,
    start_upload,
    unique_repo,
    upload_location,
    with_params,
)
from tests.support.server import WharfServer

OCTET = {"Content-Type": "application/octet-stream"}


def test_chunked_upload_survives_restart(own_server: WharfServer) -> None:
    repo = unique_repo()
    data = random_bytes(256 * 1024)
    middle = 100_000
    first, second = data[:middle], data[middle:]

    with httpx.Client(base_url=own_server.url, timeout=30, auth=own_server.auth) as client:
        location = upload_location(start_upload(client, repo))
        resp = client.patch(
            location, content=first, headers={**OCTET, "Content-Range": f"0-{middle - 1}"}
        )
        assert resp.status_code == 202, resp.text
        location = upload_location(resp)

    own_server.restart()

    with httpx.Client(base_url=own_server.url, timeout=30, auth=own_server.auth) as client:
        status = client.get(location)
        assert status.status_code == 204, status.text
        assert status.headers["Range"] == f"0-{middle - 1}"

        resp = client.patch(
            upload_location(status),
            content=second,
            headers={**OCTET, "Content-Range": f"{middle}-{len(data) - 1}"},
        )
        assert resp.status_code == 202, resp.text
        assert resp.headers["Range"] == f"0-{len(data) - 1}"

        digest = sha256(data)
        resp = client.put(with_params(upload_location(resp), digest=digest), headers=OCTET)
        assert resp.status_code == 201, resp.text
        assert resp.headers["Docker-Content-Digest"] == digest

        blob = client.get(f"/v2/{repo}/blobs/{digest}")
        assert blob.status_code == 200
        assert blob.content == data


def test_out_of_order_chunk_after_restart_is_416(own_server: WharfServer) -> None:
    repo = unique_repo()
    with httpx.Client(base_url=own_server.url, timeout=30, auth=own_server.auth) as client:
        location = upload_location(start_upload(client, repo))
        resp = client.patch(
            location, content=b"0123456789", headers={**OCTET, "Content-Range": "0-9"}
        )
        assert resp.status_code == 202
        location = upload_location(resp)

    own_server.restart()

    with httpx.Client(base_url=own_server.url, timeout=30, auth=own_server.auth) as client:
        resp = client.patch(location, content=b"abc", headers={**OCTET, "Content-Range": "20-22"})
        assert resp.status_code == 416, resp.text
        assert resp.headers["Range"] == "0-9"


def test_pushed_content_survives_restart(own_server: WharfServer) -> None:
    repo = unique_repo()
    with httpx.Client(base_url=own_server.url, timeout=30, auth=own_server.auth) as client:
        image = push_image(client, repo, tag="v1")

    own_server.restart()

    with httpx.Client(base_url=own_server.url, timeout=30, auth=own_server.auth) as client:
        resp = client.get(f"/v2/{repo}/manifests/v1", headers={"Accept": OCI_MANIFEST})
        assert resp.status_code == 200
        assert resp.content == image.manifest
        for digest, data in zip(image.layer_digests, image.layers, strict=True):
            assert client.get(f"/v2/{repo}/blobs/{digest}").content == data
        assert client.get(f"/v2/{repo}/tags/list").json()["tags"] == ["v1"]
