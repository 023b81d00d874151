"""Pulling blobs and manifests (conformance 01_pull, plus Range requests on blobs)."""

from __future__ import annotations

import httpx
import pytest

from tests.support.oci import (
    OCI_MANIFEST,
    assert_error,
    push_blob,
    push_image,
    random_bytes,
    sha256,
    unique_repo,
)

ACCEPT_OCI = {"Accept": OCI_MANIFEST}
# The conformance suite's reference for a manifest that does not exist.
NONEXISTENT_REFERENCE = ".INVALID_MANIFEST_NAME"
DUMMY_DIGEST = sha256(b"hello world")


def test_base_route_answers_200(client: httpx.Client) -> None:
    assert client.get("/v2/").status_code == 200


def test_head_nonexistent_blob_is_404(client: httpx.Client) -> None:
    resp = client.head(f"/v2/{unique_repo()}/blobs/{DUMMY_DIGEST}")
    assert resp.status_code == 404


def test_head_existing_blob(client: httpx.Client) -> None:
    repo = unique_repo()
    data = random_bytes(333)
    digest = push_blob(client, repo, data)
    resp = client.head(f"/v2/{repo}/blobs/{digest}")
    assert resp.status_code == 200
    assert resp.headers["Docker-Content-Digest"] == digest
    assert resp.headers["Content-Length"] == str(len(data))
    assert resp.content == b""


def test_get_nonexistent_blob_is_blob_unknown(client: httpx.Client) -> None:
    repo = unique_repo()
    push_blob(client, repo, random_bytes(10))  # the repository exists, the blob does not
    assert_error(client.get(f"/v2/{repo}/blobs/{DUMMY_DIGEST}"), 404, "BLOB_UNKNOWN")


def test_get_existing_blob(client: httpx.Client) -> None:
    repo = unique_repo()
    data = random_bytes(4096)
    digest = push_blob(client, repo, data)
    resp = client.get(f"/v2/{repo}/blobs/{digest}")
    assert resp.status_code == 200
    assert resp.content == data
    assert resp.headers["Docker-Content-Digest"] == digest
    assert resp.headers["Content-Length"] == str(len(data))


def test_blob_of_another_repository_is_not_visible(client: httpx.Client) -> None:
    owner, other = unique_repo(), unique_repo()
    digest = push_blob(client, owner, random_bytes(100))
    push_blob(client, other, random_bytes(100))
    assert_error(client.get(f"/v2/{other}/blobs/{digest}"), 404, "BLOB_UNKNOWN")


class TestBlobRange:
    """Range GETs on blobs: the spec's SHOULD for incremental downloads."""

    size = 1000

    @pytest.fixture
    def blob(self, client: httpx.Client) -> tuple[str, bytes]:
        repo = unique_repo()
        data = random_bytes(self.size)
        return f"/v2/{repo}/blobs/{push_blob(client, repo, data)}", data

    @pytest.mark.parametrize(
        ("header", "start", "end"),
        [
            ("bytes=0-0", 0, 0),
            ("bytes=10-19", 10, 19),
            ("bytes=990-", 990, 999),
            ("bytes=-5", 995, 999),
            ("bytes=900-5000", 900, 999),  # an end past the blob is cut to the blob
        ],
    )
    def test_satisfiable_range_is_206(
        self, client: httpx.Client, blob: tuple[str, bytes], header: str, start: int, end: int
    ) -> None:
        url, data = blob
        resp = client.get(url, headers={"Range": header})
        assert resp.status_code == 206, resp.text
        assert resp.headers["Content-Range"] == f"bytes {start}-{end}/{self.size}"
        assert resp.headers["Content-Length"] == str(end - start + 1)
        assert resp.content == data[start : end + 1]

    @pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000"])
    def test_unsatisfiable_range_is_416(
        self, client: httpx.Client, blob: tuple[str, bytes], header: str
    ) -> None:
        url, _ = blob
        resp = client.get(url, headers={"Range": header})
        assert resp.status_code == 416, resp.text
        assert resp.headers["Content-Range"] == f"bytes */{self.size}"

    def test_without_range_whole_blob(self, client: httpx.Client, blob: tuple[str, bytes]) -> None:
        url, data = blob
        resp = client.get(url)
        assert resp.status_code == 200
        assert resp.content == data


class TestPullManifests:
    def test_head_nonexistent_manifest_is_404(self, client: httpx.Client) -> None:
        repo = unique_repo()
        push_image(client, repo)
        resp = client.head(f"/v2/{repo}/manifests/{NONEXISTENT_REFERENCE}", headers=ACCEPT_OCI)
        assert resp.status_code == 404, dict(resp.headers)

    def test_get_nonexistent_manifest_is_404(self, client: httpx.Client) -> None:
        repo = unique_repo()
        push_image(client, repo)
        resp = client.get(f"/v2/{repo}/manifests/{NONEXISTENT_REFERENCE}", headers=ACCEPT_OCI)
        assert resp.status_code == 404, resp.text

    @pytest.mark.parametrize("by", ["tag", "digest"])
    def test_head_manifest(self, client: httpx.Client, by: str) -> None:
        repo = unique_repo()
        image = push_image(client, repo, tag="v1")
        reference = "v1" if by == "tag" else image.digest
        resp = client.head(f"/v2/{repo}/manifests/{reference}", headers=ACCEPT_OCI)
        assert resp.status_code == 200
        assert resp.headers["Docker-Content-Digest"] == image.digest
        assert resp.headers["Content-Length"] == str(len(image.manifest))
        assert resp.headers["Content-Type"] == OCI_MANIFEST
        assert resp.content == b""

    @pytest.mark.parametrize("by", ["tag", "digest"])
    def test_get_manifest(self, client: httpx.Client, by: str) -> None:
        repo = unique_repo()
        image = push_image(client, repo, tag="v1")
        reference = "v1" if by == "tag" else image.digest
        resp = client.get(f"/v2/{repo}/manifests/{reference}", headers=ACCEPT_OCI)
        assert resp.status_code == 200
        assert resp.content == image.manifest  # byte for byte, as pushed
        assert resp.headers["Docker-Content-Digest"] == image.digest
        assert resp.headers["Content-Type"] == OCI_MANIFEST

    def test_get_manifest_pushed_by_digest_only(self, client: httpx.Client) -> None:
        repo = unique_repo()
        image = push_image(client, repo, tag=None)
        resp = client.get(f"/v2/{repo}/manifests/{image.digest}", headers=ACCEPT_OCI)
        assert resp.status_code == 200
        assert resp.content == image.manifest

    def test_get_unknown_tag_is_manifest_unknown(self, client: httpx.Client) -> None:
        repo = unique_repo()
        push_image(client, repo)
        resp = client.get(f"/v2/{repo}/manifests/no-such-tag", headers=ACCEPT_OCI)
        assert_error(resp, 404, "MANIFEST_UNKNOWN")

    def test_get_unknown_digest_is_manifest_unknown(self, client: httpx.Client) -> None:
        repo = unique_repo()
        push_image(client, repo)
        resp = client.get(f"/v2/{repo}/manifests/{DUMMY_DIGEST}", headers=ACCEPT_OCI)
        assert_error(resp, 404, "MANIFEST_UNKNOWN")


def test_bad_manifest_put_has_oci_error_body(client: httpx.Client) -> None:
    """Conformance "Error codes": a 400 carries a registered OCI error code."""
    repo = unique_repo()
    resp = client.put(
        f"/v2/{repo}/manifests/sha256:totallywrong",
        content=b"blablabla",
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert_error(
        resp,
        400,
        "BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID",
        "MANIFEST_BLOB_UNKNOWN", "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "MANIFEST_UNVERIFIED",
        "NAME_INVALID", "NAME_UNKNOWN", "SIZE_INVALID", "TAG_INVALID", "UNAUTHORIZED", "DENIED",
        "UNSUPPORTED",
    )
