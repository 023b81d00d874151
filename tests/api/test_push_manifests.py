"""Manifest uploads: by tag and digest, images, indexes, Docker types, subjects
(conformance 02_push "Manifest Upload", spec "Pushing Manifests")."""

from __future__ import annotations

import httpx
import pytest

from tests.support.oci import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    assert_error,
    descriptor,
    index_json,
    make_image,
    manifest_json,
    push_blob,
    push_image,
    push_image_blobs,
    put_manifest,
    random_bytes,
    random_config,
    sha256,
    unique_repo,
)

ACCEPT_ALL = {"Accept": ", ".join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST])}
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def assert_created_manifest(resp: httpx.Response, repo: str, digest: str) -> None:
    assert resp.status_code == 201, resp.text
    assert httpx.URL(resp.headers["Location"]).path == f"/v2/{repo}/manifests/{digest}"
    assert resp.headers["Docker-Content-Digest"] == digest


def assert_served(
    client: httpx.Client, repo: str, reference: str, body: bytes, media_type: str
) -> None:
    resp = client.get(f"/v2/{repo}/manifests/{reference}", headers=ACCEPT_ALL)
    assert resp.status_code == 200, resp.text
    assert resp.content == body
    assert resp.headers["Content-Type"] == media_type
    assert resp.headers["Docker-Content-Digest"] == sha256(body)


def test_put_manifest_by_tag(client: httpx.Client) -> None:
    repo = unique_repo()
    image = make_image()
    push_image_blobs(client, repo, image)
    resp = put_manifest(client, repo, "v1", image.manifest)
    assert_created_manifest(resp, repo, image.digest)
    assert_served(client, repo, "v1", image.manifest, OCI_MANIFEST)
    assert_served(client, repo, image.digest, image.manifest, OCI_MANIFEST)


def test_put_manifest_by_digest(client: httpx.Client) -> None:
    repo = unique_repo()
    image = make_image()
    push_image_blobs(client, repo, image)
    resp = put_manifest(client, repo, image.digest, image.manifest)
    assert_created_manifest(resp, repo, image.digest)
    assert_served(client, repo, image.digest, image.manifest, OCI_MANIFEST)


def test_same_manifest_under_four_tags(client: httpx.Client) -> None:
    repo = unique_repo()
    image = make_image()
    push_image_blobs(client, repo, image)
    for i in range(4):
        resp = put_manifest(client, repo, f"test{i}", image.manifest)
        assert_created_manifest(resp, repo, image.digest)
    tags = client.get(f"/v2/{repo}/tags/list").json()["tags"]
    assert tags == ["test0", "test1", "test2", "test3"]


def test_manifest_with_no_layers(client: httpx.Client) -> None:
    repo = unique_repo()
    config = random_config()
    push_blob(client, repo, config)
    body = manifest_json(descriptor(OCI_CONFIG, config), [], media_type=None)
    resp = put_manifest(client, repo, "emptylayer", body)
    assert_created_manifest(resp, repo, sha256(body))


def test_retag_moves_the_tag(client: httpx.Client) -> None:
    repo = unique_repo()
    push_image(client, repo, tag="moving")
    second = push_image(client, repo, tag="moving")
    assert_served(client, repo, "moving", second.manifest, OCI_MANIFEST)


def test_manifest_put_is_idempotent(client: httpx.Client) -> None:
    repo = unique_repo()
    image = push_image(client, repo, tag="v1")
    resp = put_manifest(client, repo, "v1", image.manifest)
    assert_created_manifest(resp, repo, image.digest)


def test_manifest_with_unknown_fields_is_stored_verbatim(client: httpx.Client) -> None:
    """The conformance manifests carry `data` and an unspecified field in the config."""
    repo = unique_repo()
    config = random_config()
    layer = random_bytes(100)
    push_blob(client, repo, config)
    push_blob(client, repo, layer)
    body = manifest_json(
        descriptor(OCI_CONFIG, config, newUnspecifiedField="aGVsbG8gd29ybGQ="),
        [descriptor(OCI_LAYER, layer)],
    )
    resp = put_manifest(client, repo, "unknown-fields", body)
    assert_created_manifest(resp, repo, sha256(body))
    assert_served(client, repo, "unknown-fields", body, OCI_MANIFEST)


def test_docker_schema2_manifest_and_list(client: httpx.Client) -> None:
    repo = unique_repo()
    config = random_config()
    layer = random_bytes(200)
    push_blob(client, repo, config)
    push_blob(client, repo, layer)
    manifest = manifest_json(
        descriptor(DOCKER_CONFIG, config),
        [descriptor(DOCKER_LAYER, layer)],
        media_type=DOCKER_MANIFEST,
    )
    resp = put_manifest(client, repo, "docker", manifest, DOCKER_MANIFEST)
    assert_created_manifest(resp, repo, sha256(manifest))
    assert_served(client, repo, "docker", manifest, DOCKER_MANIFEST)

    platform = {"architecture": "amd64", "os": "linux"}
    manifest_list = index_json(
        [descriptor(DOCKER_MANIFEST, manifest, platform=platform)],
        media_type=DOCKER_MANIFEST_LIST,
    )
    resp = put_manifest(client, repo, "docker-list", manifest_list, DOCKER_MANIFEST_LIST)
    assert_created_manifest(resp, repo, sha256(manifest_list))
    assert_served(client, repo, "docker-list", manifest_list, DOCKER_MANIFEST_LIST)


def test_oci_index_of_pushed_manifests(client: httpx.Client) -> None:
    repo = unique_repo()
    amd64 = push_image(client, repo, tag=None)
    arm64 = push_image(client, repo, tag=None)
    body = index_json([
        amd64.descriptor(platform={"architecture": "amd64", "os": "linux"}),
        arm64.descriptor(platform={"architecture": "arm64", "os": "linux"}),
    ])
    resp = put_manifest(client, repo, "multi", body, OCI_INDEX)
    assert_created_manifest(resp, repo, sha256(body))
    assert_served(client, repo, "multi", body, OCI_INDEX)
    head = client.head(f"/v2/{repo}/manifests/multi", headers=ACCEPT_ALL)
    assert head.status_code == 200
    assert head.headers["Content-Length"] == str(len(body))
    assert head.headers["Content-Type"] == OCI_INDEX


def test_manifest_with_subject_answers_oci_subject(client: httpx.Client) -> None:
    repo = unique_repo()
    subject = push_image(client, repo)
    image = make_image(subject=subject.descriptor(), artifact_type="application/vnd.example")
    push_image_blobs(client, repo, image)
    resp = put_manifest(client, repo, image.digest, image.manifest)
    assert_created_manifest(resp, repo, image.digest)
    assert resp.headers["OCI-Subject"] == subject.digest


def test_manifest_without_subject_has_no_oci_subject(client: httpx.Client) -> None:
    repo = unique_repo()
    image = make_image()
    push_image_blobs(client, repo, image)
    resp = put_manifest(client, repo, "plain", image.manifest)
    assert resp.status_code == 201
    assert "OCI-Subject" not in resp.headers


class TestMissingReferences:
    @pytest.mark.parametrize("missing", ["config", "layer"])
    def test_manifest_with_missing_blob(self, client: httpx.Client, missing: str) -> None:
        repo = unique_repo()
        image = make_image()
        if missing != "config":
            push_blob(client, repo, image.config)
        if missing != "layer":
            push_blob(client, repo, image.layers[0])
        resp = put_manifest(client, repo, "broken", image.manifest)
        assert_error(resp, 400, "MANIFEST_BLOB_UNKNOWN")
        assert client.get(f"/v2/{repo}/manifests/broken", headers=ACCEPT_ALL).status_code == 404

    def test_blob_only_in_another_repository_is_missing(self, client: httpx.Client) -> None:
        other, repo = unique_repo(), unique_repo()
        image = make_image()
        push_image_blobs(client, other, image)
        push_blob(client, repo, image.config)
        resp = put_manifest(client, repo, "v1", image.manifest)
        assert_error(resp, 400, "MANIFEST_BLOB_UNKNOWN")

    def test_index_with_missing_child_manifest(self, client: httpx.Client) -> None:
        repo = unique_repo()
        present = push_image(client, repo, tag=None)
        absent = make_image()
        push_image_blobs(client, repo, absent)  # its blobs, not its manifest
        body = index_json([present.descriptor(), absent.descriptor()])
        resp = put_manifest(client, repo, "broken-index", body, OCI_INDEX)
        assert_error(resp, 400, "MANIFEST_BLOB_UNKNOWN")
