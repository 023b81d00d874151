"""skopeo (containers/image) pushing to, pulling from, inspecting and deleting in the registry."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.interop.checks import assert_registry_serves, get_manifest
from tests.interop.clients import Skopeo
from tests.support.images import (
    DOCKER_CONFIG,
    DOCKER_LAYER_GZIP,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Blob,
    build_multi_arch,
    build_single_arch,
    convert_to_docker_v2s2,
    read_dir_image,
    read_layout_blob,
    read_layout_index,
    sha256_digest,
)
from tests.support.server import WharfServer

pytestmark = pytest.mark.interop


def docker_ref(server: WharfServer, repo: str, reference: str) -> str:
    separator = "@" if reference.startswith("sha256:") else ":"
    return f"docker://{server.host}/{repo}{separator}{reference}"


def test_single_arch_push_and_pull_preserve_digests(
    server: WharfServer, client: httpx.Client, skopeo: Skopeo, repo: str, salt: str, tmp_path: Path
) -> None:
    layout = build_single_arch(tmp_path / "src", salt)
    ref = docker_ref(server, repo, "1")

    skopeo.copy(layout.ref, ref, "--preserve-digests")

    assert skopeo.inspect_raw(ref) == layout.top.data
    assert_registry_serves(client, repo, layout.all_blobs().values())

    pulled = tmp_path / "pulled"
    skopeo.copy(ref, f"oci:{pulled}:1", "--preserve-digests")
    [entry] = read_layout_index(pulled)["manifests"]
    assert entry["digest"] == layout.digest
    assert entry["mediaType"] == OCI_MANIFEST
    for digest, blob in layout.all_blobs().items():
        assert read_layout_blob(pulled, digest) == blob.data


def test_multi_arch_index_push_and_pull_with_all(
    server: WharfServer, client: httpx.Client, skopeo: Skopeo, repo: str, salt: str, tmp_path: Path
) -> None:
    layout = build_multi_arch(tmp_path / "src", salt)
    ref = docker_ref(server, repo, "1")

    skopeo.copy(layout.ref, ref, "--all", "--preserve-digests")

    assert skopeo.inspect_raw(ref) == layout.top.data
    for image in layout.images:
        assert skopeo.inspect_raw(docker_ref(server, repo, image.digest)) == image.manifest.data
    assert_registry_serves(client, repo, layout.all_blobs().values())

    # The platform-specific view resolves through the index to the arm64 manifest.
    arm64 = layout.image_for("arm64")
    inspected = skopeo.inspect(ref, "--override-arch", "arm64", "--override-os", "linux")
    assert inspected["Architecture"] == "arm64"
    assert inspected["Layers"] == [layer.blob.digest for layer in arm64.layers]

    pulled = tmp_path / "pulled"
    skopeo.copy(ref, f"oci:{pulled}:1", "--all", "--preserve-digests")
    [entry] = read_layout_index(pulled)["manifests"]
    assert entry["digest"] == layout.digest
    assert entry["mediaType"] == OCI_INDEX
    for digest, blob in layout.all_blobs().items():
        assert read_layout_blob(pulled, digest) == blob.data


def test_inspect_reports_image_metadata_and_config(
    server: WharfServer, skopeo: Skopeo, repo: str, salt: str, tmp_path: Path
) -> None:
    layout = build_single_arch(tmp_path / "src", salt)
    [image] = layout.images
    ref = docker_ref(server, repo, "1")
    skopeo.copy(layout.ref, ref, "--preserve-digests")

    inspected = skopeo.inspect(ref)
    assert inspected["Digest"] == layout.digest
    assert inspected["Architecture"] == "amd64"
    assert inspected["Os"] == "linux"
    assert inspected["Layers"] == [layer.blob.digest for layer in image.layers]
    assert inspected["RepoTags"] == ["1"]
    assert inspected["Labels"] == {"org.opencontainers.image.title": f"wharf-interop-{salt}"}

    assert skopeo.inspect_raw(ref, "--config") == image.config.data
    config = skopeo.inspect(ref, "--config")
    assert config["rootfs"] == {
        "type": "layers",
        "diff_ids": [layer.diff_id for layer in image.layers],
    }


def test_list_tags(
    server: WharfServer, skopeo: Skopeo, repo: str, salt: str, tmp_path: Path
) -> None:
    layout = build_single_arch(tmp_path / "src", salt)
    first = docker_ref(server, repo, "1")
    skopeo.copy(layout.ref, first, "--preserve-digests")
    for tag in ("2", "latest", "v1.0.0-rc.1"):
        skopeo.copy(first, docker_ref(server, repo, tag), "--preserve-digests")

    listed = json.loads(skopeo("list-tags", "--tls-verify=false", f"docker://{server.host}/{repo}").stdout)

    assert listed["Repository"] == f"{server.host}/{repo}"
    assert sorted(listed["Tags"]) == ["1", "2", "latest", "v1.0.0-rc.1"]
    for tag in listed["Tags"]:
        assert skopeo.inspect_raw(docker_ref(server, repo, tag)) == layout.top.data


def test_delete_removes_manifest(
    server: WharfServer, client: httpx.Client, skopeo: Skopeo, repo: str, salt: str, tmp_path: Path
) -> None:
    layout = build_single_arch(tmp_path / "src", salt)
    ref = docker_ref(server, repo, "1")
    skopeo.copy(layout.ref, ref, "--preserve-digests")
    assert skopeo.inspect(ref)["Digest"] == layout.digest

    skopeo("delete", "--tls-verify=false", ref)

    for gone in (ref, docker_ref(server, repo, layout.digest)):
        result = skopeo.unchecked("inspect", "--tls-verify=false", "--raw", gone)
        assert result.returncode != 0, f"{gone} still inspectable after delete"
        assert "manifest unknown" in result.stderr.lower(), result.stderr
    resp = get_manifest(client, repo, layout.digest)
    assert resp.status_code == 404
    assert resp.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"


def test_copy_between_repositories(
    server: WharfServer, client: httpx.Client, skopeo: Skopeo, salt: str, tmp_path: Path
) -> None:
    project = f"interop/{salt[:8]}"
    source_repo, dest_repo = f"{project}/source", f"{project}/copy"
    layout = build_multi_arch(tmp_path / "src", salt)
    skopeo.copy(layout.ref, docker_ref(server, source_repo, "1"), "--all", "--preserve-digests")

    skopeo.copy(
        docker_ref(server, source_repo, "1"),
        docker_ref(server, dest_repo, "copied"),
        "--all", "--preserve-digests",
    )

    assert skopeo.inspect_raw(docker_ref(server, dest_repo, "copied")) == layout.top.data
    assert_registry_serves(client, dest_repo, layout.all_blobs().values())
    # The source is untouched by the copy.
    assert_registry_serves(client, source_repo, layout.all_blobs().values())


def test_docker_v2s2_dir_image_push_and_pull_byte_identical(
    server: WharfServer, client: httpx.Client, skopeo: Skopeo, repo: str, salt: str, tmp_path: Path
) -> None:
    layout = build_single_arch(tmp_path / "src", salt)
    v2s2 = convert_to_docker_v2s2(
        layout, tmp_path / "v2s2", ["--policy", str(skopeo.config.policy)]
    )
    assert v2s2.manifest["mediaType"] == DOCKER_MANIFEST
    ref = docker_ref(server, repo, "docker")

    skopeo.copy(v2s2.ref, ref, "--preserve-digests")

    assert skopeo.inspect_raw(ref) == v2s2.manifest_bytes
    resp = get_manifest(client, repo, "docker")
    assert resp.headers["content-type"] == DOCKER_MANIFEST
    assert resp.headers["docker-content-digest"] == v2s2.digest
    config_digest = v2s2.manifest["config"]["digest"]
    assert_registry_serves(
        client, repo, [Blob(DOCKER_CONFIG, v2s2.blob(config_digest))]
    )

    pulled = read_dir_image(_pull_to_dir(skopeo, ref, tmp_path / "pulled"))
    assert pulled.manifest_bytes == v2s2.manifest_bytes
    for descriptor in [v2s2.manifest["config"], *v2s2.manifest["layers"]]:
        assert pulled.blob(descriptor["digest"]) == v2s2.blob(descriptor["digest"])


def test_push_with_format_v2s2_converts_and_pulls_back(
    server: WharfServer, skopeo: Skopeo, repo: str, salt: str, tmp_path: Path
) -> None:
    layout = build_single_arch(tmp_path / "src", salt)
    [image] = layout.images
    ref = docker_ref(server, repo, "converted")

    skopeo.copy(layout.ref, ref, "--format", "v2s2")

    raw = skopeo.inspect_raw(ref)
    manifest = json.loads(raw)
    assert manifest["mediaType"] == DOCKER_MANIFEST
    assert manifest["config"]["mediaType"] == DOCKER_CONFIG
    # Only the media types change: config and compressed layers are the same bytes.
    assert manifest["config"]["digest"] == image.config.digest
    assert [layer["mediaType"] for layer in manifest["layers"]] == [DOCKER_LAYER_GZIP] * 2
    assert [layer["digest"] for layer in manifest["layers"]] == [
        layer.blob.digest for layer in image.layers
    ]
    assert skopeo.inspect(ref)["Digest"] == sha256_digest(raw)

    pulled = read_dir_image(_pull_to_dir(skopeo, ref, tmp_path / "pulled"))
    assert pulled.manifest_bytes == raw
    for blob in image.blobs():
        assert pulled.blob(blob.digest) == blob.data


def _pull_to_dir(skopeo: Skopeo, ref: str, dest: Path) -> Path:
    """Pull without any conversion: ``dir:`` keeps the manifest exactly as served."""
    skopeo.copy(ref, f"dir:{dest}", "--preserve-digests")
    return dest
