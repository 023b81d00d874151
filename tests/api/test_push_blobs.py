"""Blob uploads: streamed, monolithic, chunked, status, cancel and cross-repository mount
(conformance 02_push, spec "Pushing blobs")."""

from __future__ import annotations

import httpx
import pytest

from tests.support.oci import (
    assert_error,
    digest_of,
    push_blob,
    random_bytes,
    sha256,
    start_upload,
    unique_repo,
    upload_location,
    with_params,
)

OCTET = {"Content-Type": "application/octet-stream"}
DUMMY_DIGEST = sha256(b"hello world")


def location_path(resp: httpx.Response) -> str:
    return httpx.URL(upload_location(resp)).path


def assert_blob(client: httpx.Client, repo: str, digest: str, data: bytes) -> None:
    resp = client.get(f"/v2/{repo}/blobs/{digest}")
    assert resp.status_code == 200, resp.text
    assert resp.content == data


def assert_created_blob(
    resp: httpx.Response, repo: str, digest: str, canonical: str | None = None
) -> None:
    """A finished upload: 201, Location of the blob, its digest.

    The spec lets the registry answer with its canonical digest (`canonical`) instead of
    the one pushed, e.g. sha256 for a blob pushed by sha512.
    """
    assert resp.status_code == 201, resp.text
    allowed = {digest} if canonical is None else {digest, canonical}
    assert resp.headers["Docker-Content-Digest"] in allowed
    assert location_path(resp) in {f"/v2/{repo}/blobs/{d}" for d in allowed}


def chunks_of(data: bytes) -> tuple[bytes, bytes]:
    """Split like the conformance suite: the first chunk is one byte over half."""
    middle = len(data) // 2 + 1
    return data[:middle], data[middle:]


def content_range(start: int, chunk: bytes) -> str:
    return f"{start}-{start + len(chunk) - 1}"


def patch_chunk(
    client: httpx.Client, location: str, chunk: bytes, start: int | None = None
) -> httpx.Response:
    headers = {**OCTET, "Content-Length": str(len(chunk))}
    if start is not None:
        headers["Content-Range"] = content_range(start, chunk)
    return client.patch(location, content=chunk, headers=headers)


class TestStreamed:
    def test_patch_then_put_with_digest(self, client: httpx.Client) -> None:
        repo = unique_repo()
        data = random_bytes(42)
        resp = patch_chunk(client, upload_location(start_upload(client, repo)), data)
        assert resp.status_code == 202, resp.text
        assert resp.headers["Range"] == f"0-{len(data) - 1}"
        assert location_path(resp).startswith(f"/v2/{repo}/blobs/uploads/")

        digest = sha256(data)
        resp = client.put(with_params(upload_location(resp), digest=digest), headers=OCTET)
        assert_created_blob(resp, repo, digest)
        assert_blob(client, repo, digest, data)


class TestMonolithic:
    def test_post_with_digest_and_body_is_201(self, client: httpx.Client) -> None:
        repo = unique_repo()
        data = random_bytes(500)
        digest = sha256(data)
        resp = client.post(
            f"/v2/{repo}/blobs/uploads/", params={"digest": digest}, content=data, headers=OCTET
        )
        assert_created_blob(resp, repo, digest)
        assert_blob(client, repo, digest, data)

    def test_post_then_put_with_body_is_201(self, client: httpx.Client) -> None:
        repo = unique_repo()
        data = random_bytes(500)
        digest = sha256(data)
        resp = start_upload(client, repo)
        assert location_path(resp).startswith(f"/v2/{repo}/blobs/uploads/")
        resp = client.put(
            with_params(upload_location(resp), digest=digest), content=data, headers=OCTET
        )
        assert_created_blob(resp, repo, digest)
        assert_blob(client, repo, digest, data)

    def test_empty_blob(self, client: httpx.Client) -> None:
        repo = unique_repo()
        digest = push_blob(client, repo, b"")
        assert_blob(client, repo, digest, b"")

    def test_sha512_blob_is_accepted(self, client: httpx.Client) -> None:
        repo = unique_repo()
        data = random_bytes(300)
        digest = push_blob(client, repo, data, algorithm="sha512")
        assert digest.startswith("sha512:")
        resp = client.get(f"/v2/{repo}/blobs/{digest}")
        assert resp.status_code == 200
        assert resp.content == data
        assert resp.headers["Docker-Content-Digest"] in {digest, sha256(data)}
        assert client.head(f"/v2/{repo}/blobs/{digest}").status_code == 200

    def test_pushing_existing_blob_again_is_201(self, client: httpx.Client) -> None:
        repo = unique_repo()
        data = random_bytes(100)
        push_blob(client, repo, data)
        push_blob(client, repo, data)
        assert_blob(client, repo, sha256(data), data)


class TestChunked:
    """The conformance suite's chunked sequence, step by step."""

    def test_out_of_order_chunk_is_416(self, client: httpx.Client) -> None:
        repo = unique_repo()
        first, second = chunks_of(random_bytes(42))
        location = upload_location(start_upload(client, repo))
        resp = patch_chunk(client, location, second, start=len(first))
        assert resp.status_code == 416, resp.text

    def test_full_sequence(self, client: httpx.Client) -> None:
        repo = unique_repo()
        data = random_bytes(42)
        first, second = chunks_of(data)
        started = start_upload(client, repo)

        resp = patch_chunk(client, upload_location(started), first, start=0)
        assert resp.status_code == 202, resp.text
        assert resp.headers["Range"] == content_range(0, first)
        assert location_path(resp).startswith(f"/v2/{repo}/blobs/uploads/")

        # Retrying the chunk just accepted, at the upload's first URL, is out of order.
        retry = patch_chunk(client, upload_location(started), first, start=0)
        assert retry.status_code == 416, retry.text

        # The stale URL still reports the upload's state.
        status = client.get(upload_location(started))
        assert status.status_code == 204, status.text
        assert status.headers["Range"] == content_range(0, first)
        assert status.headers.get("Location")

        resp = patch_chunk(client, upload_location(status), second, start=len(first))
        assert resp.status_code == 202, resp.text
        assert resp.headers["Range"] == f"0-{len(data) - 1}"
        assert resp.headers.get("Location")

        digest = sha256(data)
        resp = client.put(
            with_params(upload_location(resp), digest=digest),
            headers={**OCTET, "Content-Length": "0"},
        )
        assert_created_blob(resp, repo, digest)
        assert_blob(client, repo, digest, data)

    def test_put_with_final_chunk(self, client: httpx.Client) -> None:
        repo = unique_repo()
        data = random_bytes(1000)
        first, second = chunks_of(data)
        resp = patch_chunk(client, upload_location(start_upload(client, repo)), first, start=0)
        assert resp.status_code == 202, resp.text
        digest = sha256(data)
        resp = client.put(
            with_params(upload_location(resp), digest=digest),
            content=second,
            headers={
                **OCTET,
                "Content-Length": str(len(second)),
                "Content-Range": content_range(len(first), second),
            },
        )
        assert_created_blob(resp, repo, digest)
        assert_blob(client, repo, digest, data)

    def test_many_chunks(self, client: httpx.Client) -> None:
        repo = unique_repo()
        data = random_bytes(10 * 1024)
        location = upload_location(start_upload(client, repo))
        for start in range(0, len(data), 1024):
            resp = patch_chunk(client, location, data[start : start + 1024], start=start)
            assert resp.status_code == 202, resp.text
            assert resp.headers["Range"] == f"0-{start + 1023}"
            location = upload_location(resp)
        digest = sha256(data)
        resp = client.put(with_params(location, digest=digest), headers=OCTET)
        assert_created_blob(resp, repo, digest)
        assert_blob(client, repo, digest, data)

    @pytest.mark.parametrize("offset", [-1, +1, +100])
    def test_content_range_not_at_offset_is_416_with_range(
        self, client: httpx.Client, offset: int
    ) -> None:
        repo = unique_repo()
        first, second = chunks_of(random_bytes(200))
        resp = patch_chunk(client, upload_location(start_upload(client, repo)), first, start=0)
        assert resp.status_code == 202, resp.text
        location = upload_location(resp)

        resp = patch_chunk(client, location, second, start=len(first) + offset)
        assert resp.status_code == 416, resp.text
        assert resp.headers["Range"] == content_range(0, first)

        # The rejected chunk changed nothing: the upload can continue where it was.
        status = client.get(location)
        assert status.status_code == 204
        assert status.headers["Range"] == content_range(0, first)
        resp = patch_chunk(client, location, second, start=len(first))
        assert resp.status_code == 202, resp.text


class TestUploadStatusAndCancel:
    def test_status_of_new_upload_is_204(self, client: httpx.Client) -> None:
        repo = unique_repo()
        started = start_upload(client, repo)
        resp = client.get(upload_location(started))
        assert resp.status_code == 204, resp.text
        assert location_path(resp).startswith(f"/v2/{repo}/blobs/uploads/")

    def test_status_after_chunk_reports_range(self, client: httpx.Client) -> None:
        repo = unique_repo()
        location = upload_location(start_upload(client, repo))
        resp = patch_chunk(client, location, random_bytes(77), start=0)
        assert resp.status_code == 202
        resp = client.get(upload_location(resp))
        assert resp.status_code == 204
        assert resp.headers["Range"] == "0-76"

    def test_cancel_upload(self, client: httpx.Client) -> None:
        repo = unique_repo()
        location = upload_location(start_upload(client, repo))
        data = random_bytes(50)
        assert patch_chunk(client, location, data, start=0).status_code == 202

        resp = client.delete(location)
        assert resp.status_code == 204, resp.text

        assert_error(client.get(location), 404, "BLOB_UPLOAD_UNKNOWN")
        resp = patch_chunk(client, location, data, start=50)
        assert_error(resp, 404, "BLOB_UPLOAD_UNKNOWN")
        resp = client.put(with_params(location, digest=sha256(data)), headers=OCTET)
        assert_error(resp, 404, "BLOB_UPLOAD_UNKNOWN")
        assert client.head(f"/v2/{repo}/blobs/{sha256(data)}").status_code == 404

    def test_finished_upload_is_gone(self, client: httpx.Client) -> None:
        repo = unique_repo()
        location = upload_location(start_upload(client, repo))
        data = random_bytes(10)
        resp = client.put(with_params(location, digest=sha256(data)), content=data, headers=OCTET)
        assert resp.status_code == 201
        assert_error(client.get(location), 404, "BLOB_UPLOAD_UNKNOWN")


class TestMount:
    def test_mount_from_repository_is_201(self, client: httpx.Client) -> None:
        source, target = unique_repo(), unique_repo()
        data = random_bytes(42)
        digest = push_blob(client, source, data)
        resp = client.post(
            f"/v2/{target}/blobs/uploads/",
            params={"mount": digest, "from": source},
            headers={"Content-Length": "0"},
        )
        assert_created_blob(resp, target, digest)
        assert_blob(client, target, digest, data)

    def test_mount_of_nonexistent_blob_falls_back_to_upload(self, client: httpx.Client) -> None:
        source, target = unique_repo(), unique_repo()
        push_blob(client, source, random_bytes(10))
        resp = client.post(
            f"/v2/{target}/blobs/uploads/",
            params={"mount": DUMMY_DIGEST, "from": source},
            headers={"Content-Length": "0"},
        )
        assert resp.status_code == 202, resp.text
        assert location_path(resp).startswith(f"/v2/{target}/blobs/uploads/")
        # The session it returned is a usable upload.
        data = random_bytes(20)
        resp = client.put(
            with_params(upload_location(resp), digest=sha256(data)), content=data, headers=OCTET
        )
        assert_created_blob(resp, target, sha256(data))

    def test_mount_from_repository_without_the_blob_is_202(self, client: httpx.Client) -> None:
        holder, source, target = unique_repo(), unique_repo(), unique_repo()
        digest = push_blob(client, holder, random_bytes(10))
        push_blob(client, source, random_bytes(10))
        resp = client.post(
            f"/v2/{target}/blobs/uploads/",
            params={"mount": digest, "from": source},
            headers={"Content-Length": "0"},
        )
        assert resp.status_code == 202, resp.text
        assert client.head(f"/v2/{target}/blobs/{digest}").status_code == 404

    def test_mount_without_from_of_unknown_blob_yields_session(
        self, client: httpx.Client
    ) -> None:
        target = unique_repo()
        resp = client.post(
            f"/v2/{target}/blobs/uploads/",
            params={"mount": DUMMY_DIGEST},
            headers={"Content-Length": "0"},
        )
        assert resp.status_code == 202, resp.text
        assert location_path(resp).startswith(f"/v2/{target}/blobs/uploads/")

    def test_mount_without_from_uses_automatic_content_discovery(
        self, client: httpx.Client
    ) -> None:
        """OCI_AUTOMATIC_CROSSMOUNT=1: a blob the registry already has is mounted (201)."""
        source, target = unique_repo(), unique_repo()
        data = random_bytes(42)
        digest = push_blob(client, source, data)
        resp = client.post(
            f"/v2/{target}/blobs/uploads/",
            params={"mount": digest},
            headers={"Content-Length": "0"},
        )
        assert_created_blob(resp, target, digest)
        assert_blob(client, target, digest, data)

    def test_mount_without_from_does_not_cross_projects(self, client: httpx.Client) -> None:
        """Automatic discovery searches the target's own project only: a blob held only in
        another project is not revealed (the client falls back to uploading it)."""
        source, target = unique_repo("conf"), unique_repo("conf2")
        digest = push_blob(client, source, random_bytes(42))
        resp = client.post(
            f"/v2/{target}/blobs/uploads/",
            params={"mount": digest},
            headers={"Content-Length": "0"},
        )
        assert resp.status_code == 202, resp.text
        assert location_path(resp).startswith(f"/v2/{target}/blobs/uploads/")
        assert client.head(f"/v2/{target}/blobs/{digest}").status_code == 404


def test_sha512_chunked_upload(client: httpx.Client) -> None:
    repo = unique_repo()
    data = random_bytes(2000)
    first, second = chunks_of(data)
    location = upload_location(start_upload(client, repo))
    resp = patch_chunk(client, location, first, start=0)
    assert resp.status_code == 202
    resp = patch_chunk(client, upload_location(resp), second, start=len(first))
    assert resp.status_code == 202
    digest = digest_of(data, "sha512")
    resp = client.put(with_params(upload_location(resp), digest=digest), headers=OCTET)
    assert_created_blob(resp, repo, digest, canonical=sha256(data))
    assert_blob(client, repo, digest, data)
