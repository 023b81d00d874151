"""Deleting manifests, tags and blobs (conformance 04_management, spec "Content Management")."""

from __future__ import annotations

import httpx

from tests.support.oci import (
    OCI_MANIFEST,
    assert_error,
    push_blob,
    push_image,
    put_manifest,
    random_bytes,
    sha256,
    unique_repo,
)

ACCEPT_OCI = {"Accept": OCI_MANIFEST}


def tags_of(client: httpx.Client, repo: str) -> list[str]:
    resp = client.get(f"/v2/{repo}/tags/list")
    assert resp.status_code == 200, resp.text
    tags = resp.json()["tags"]
    assert isinstance(tags, list)
    return tags


def test_delete_tag(client: httpx.Client) -> None:
    repo = unique_repo()
    image = push_image(client, repo, tag="tagtest0")
    assert put_manifest(client, repo, "keep", image.manifest).status_code == 201

    resp = client.delete(f"/v2/{repo}/manifests/tagtest0")
    assert resp.status_code == 202, resp.text

    resp = client.get(f"/v2/{repo}/manifests/tagtest0", headers=ACCEPT_OCI)
    assert_error(resp, 404, "MANIFEST_UNKNOWN")
    assert tags_of(client, repo) == ["keep"]
    # Only the tag went: the manifest is still there by digest and by its other tag.
    resp = client.get(f"/v2/{repo}/manifests/{image.digest}", headers=ACCEPT_OCI)
    assert resp.status_code == 200
    assert client.get(f"/v2/{repo}/manifests/keep", headers=ACCEPT_OCI).status_code == 200


def test_delete_manifest_by_digest(client: httpx.Client) -> None:
    repo = unique_repo()
    image = push_image(client, repo, tag="tagtest0")
    assert put_manifest(client, repo, "other", image.manifest).status_code == 201
    survivor = push_image(client, repo, tag="survivor")

    resp = client.delete(f"/v2/{repo}/manifests/{image.digest}")
    assert resp.status_code == 202, resp.text

    for reference in (image.digest, "tagtest0", "other"):
        resp = client.get(f"/v2/{repo}/manifests/{reference}", headers=ACCEPT_OCI)
        assert_error(resp, 404, "MANIFEST_UNKNOWN")
        resp = client.head(f"/v2/{repo}/manifests/{reference}", headers=ACCEPT_OCI)
        assert resp.status_code == 404
    # Tags that pointed at the deleted manifest went with it.
    assert tags_of(client, repo) == ["survivor"]
    resp = client.get(f"/v2/{repo}/manifests/{survivor.digest}", headers=ACCEPT_OCI)
    assert resp.status_code == 200


def test_delete_manifest_twice_is_404(client: httpx.Client) -> None:
    repo = unique_repo()
    image = push_image(client, repo)
    assert client.delete(f"/v2/{repo}/manifests/{image.digest}").status_code == 202
    resp = client.delete(f"/v2/{repo}/manifests/{image.digest}")
    assert_error(resp, 404, "MANIFEST_UNKNOWN")


def test_delete_unknown_tag_is_404(client: httpx.Client) -> None:
    repo = unique_repo()
    push_image(client, repo)
    assert_error(client.delete(f"/v2/{repo}/manifests/nope"), 404, "MANIFEST_UNKNOWN")


def test_delete_manifest_in_one_repository_only(client: httpx.Client) -> None:
    first, second = unique_repo(), unique_repo()
    image = push_image(client, first)
    push_image(client, second, image=image)
    assert client.delete(f"/v2/{first}/manifests/{image.digest}").status_code == 202
    resp = client.get(f"/v2/{second}/manifests/{image.digest}", headers=ACCEPT_OCI)
    assert resp.status_code == 200
    assert resp.content == image.manifest


def test_repush_after_delete(client: httpx.Client) -> None:
    repo = unique_repo()
    image = push_image(client, repo, tag="v1")
    assert client.delete(f"/v2/{repo}/manifests/{image.digest}").status_code == 202
    assert put_manifest(client, repo, "v1", image.manifest).status_code == 201
    resp = client.get(f"/v2/{repo}/manifests/v1", headers=ACCEPT_OCI)
    assert resp.status_code == 200
    assert resp.content == image.manifest


def test_delete_blob(client: httpx.Client) -> None:
    repo = unique_repo()
    digest = push_blob(client, repo, random_bytes(128))

    resp = client.delete(f"/v2/{repo}/blobs/{digest}")
    assert resp.status_code == 202, resp.text

    assert_error(client.get(f"/v2/{repo}/blobs/{digest}"), 404, "BLOB_UNKNOWN")
    assert client.head(f"/v2/{repo}/blobs/{digest}").status_code == 404
    assert_error(client.delete(f"/v2/{repo}/blobs/{digest}"), 404, "BLOB_UNKNOWN")


def test_delete_unknown_blob_is_404(client: httpx.Client) -> None:
    repo = unique_repo()
    push_blob(client, repo, random_bytes(8))
    resp = client.delete(f"/v2/{repo}/blobs/{sha256(b'never pushed')}")
    assert_error(resp, 404, "BLOB_UNKNOWN")


def test_delete_blob_in_one_repository_only(client: httpx.Client) -> None:
    first, second = unique_repo(), unique_repo()
    data = random_bytes(64)
    digest = push_blob(client, first, data)
    push_blob(client, second, data)
    assert client.delete(f"/v2/{first}/blobs/{digest}").status_code == 202
    resp = client.get(f"/v2/{second}/blobs/{digest}")
    assert resp.status_code == 200
    assert resp.content == data


def test_blob_can_be_pushed_again_after_delete(client: httpx.Client) -> None:
    repo = unique_repo()
    data = random_bytes(64)
    digest = push_blob(client, repo, data)
    assert client.delete(f"/v2/{repo}/blobs/{digest}").status_code == 202
    push_blob(client, repo, data)
    resp = client.get(f"/v2/{repo}/blobs/{digest}")
    assert resp.status_code == 200
    assert resp.content == data
