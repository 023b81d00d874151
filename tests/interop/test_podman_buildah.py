"""podman and buildah (as root, vfs storage in tmp) pushing to and pulling from the registry.

These clients store layers uncompressed and recompress on push, so the pushed layer digests
need not match the layout's; what must survive is the config (the image ID), the diff_ids
and the content. Each test starts by loading a local OCI layout, which doesn't involve the
registry: if that fails, the tool can't work in this sandbox and the test is skipped with
the tool's own error.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.interop.checks import get_manifest
from tests.interop.clients import ContainerTool, Skopeo
from tests.support.images import Layout, build_multi_arch, build_single_arch, sha256_digest
from tests.support.server import WharfServer

pytestmark = pytest.mark.interop

GZIP_MAGIC = b"\x1f\x8b"


def load_layout_or_skip(tool: ContainerTool, layout: Layout, *args: str) -> str:
    """Load ``layout`` into the tool's store; returns the last stdout line (an ID or name)."""
    result = tool.unchecked(*args, tool.policy_flag, "--quiet", layout.ref)
    if result.returncode != 0:
        pytest.skip(
            f"{tool.name} {args[0]} from a local OCI layout fails in this sandbox "
            f"(exit {result.returncode}): {result.stderr.strip()}"
        )
    return result.stdout.strip().splitlines()[-1]


def fetch_manifest(client: httpx.Client, repo: str, reference: str) -> tuple[str, dict[str, Any]]:
    resp = get_manifest(client, repo, reference)
    assert resp.status_code == 200, resp.text
    return sha256_digest(resp.content), resp.json()


def fetch_blob(client: httpx.Client, repo: str, digest: str) -> bytes:
    resp = client.get(f"/v2/{repo}/blobs/{digest}", follow_redirects=True)
    assert resp.status_code == 200, resp.text
    assert sha256_digest(resp.content) == digest
    return resp.content


def uncompressed_layers(client: httpx.Client, repo: str, manifest: dict[str, Any]) -> list[bytes]:
    """Every layer of ``manifest`` downloaded from the registry and un-gzipped."""
    layers = []
    for descriptor in manifest["layers"]:
        blob = fetch_blob(client, repo, descriptor["digest"])
        assert blob.startswith(GZIP_MAGIC), f"{descriptor} is not gzip"
        layers.append(gzip.decompress(blob))
    return layers


def assert_pushed_image_matches(
    client: httpx.Client, repo: str, manifest: dict[str, Any], config_digest: str
) -> dict[str, Any]:
    """The registry has the config and layers whose uncompressed digests are its diff_ids."""
    assert manifest["config"]["digest"] == config_digest
    config: dict[str, Any] = json.loads(fetch_blob(client, repo, config_digest))
    tars = uncompressed_layers(client, repo, manifest)
    assert [sha256_digest(tar) for tar in tars] == config["rootfs"]["diff_ids"]
    return config


def test_podman_push_and_pull_back(
    server: WharfServer,
    client: httpx.Client,
    podman: ContainerTool,
    repo: str,
    salt: str,
    tmp_path: Path,
) -> None:
    layout = build_single_arch(tmp_path / "src", salt)
    [image] = layout.images
    image_id = load_layout_or_skip(podman, layout, "pull")
    assert f"sha256:{image_id}" == image.config.digest

    target = f"{server.host}/{repo}:1"
    digest_file = tmp_path / "pushed.digest"
    podman(
        "push", podman.policy_flag, "--tls-verify=false", "--quiet",
        "--digestfile", str(digest_file), image_id, f"docker://{target}",
    )

    pushed_digest = digest_file.read_text().strip()
    served_digest, manifest = fetch_manifest(client, repo, "1")
    assert served_digest == pushed_digest
    config = assert_pushed_image_matches(client, repo, manifest, image.config.digest)
    assert config["rootfs"]["diff_ids"] == [layer.diff_id for layer in image.layers]

    fresh = podman.fresh("fresh")
    pulled = fresh("pull", fresh.policy_flag, "--tls-verify=false", "--quiet", target)
    assert pulled.stdout.strip() == image_id
    [info] = json.loads(fresh("image", "inspect", target).stdout)
    assert info["Id"] == image_id
    assert info["Digest"] == pushed_digest
    assert f"{server.host}/{repo}@{pushed_digest}" in info["RepoDigests"]


def test_podman_pulls_each_platform_of_an_index(
    server: WharfServer,
    client: httpx.Client,
    podman: ContainerTool,
    skopeo: Skopeo,
    repo: str,
    salt: str,
    tmp_path: Path,
) -> None:
    layout = build_multi_arch(tmp_path / "src", salt)
    load_layout_or_skip(podman, layout, "pull")
    target = f"{server.host}/{repo}:1"
    skopeo.copy(layout.ref, f"docker://{target}", "--all", "--preserve-digests")

    for arch in ("amd64", "arm64"):
        store = podman.fresh(arch)
        pulled = store(
            "pull", store.policy_flag, "--tls-verify=false", "--quiet", "--arch", arch, target
        )
        assert f"sha256:{pulled.stdout.strip()}" == layout.image_for(arch).config.digest
        [info] = json.loads(store("image", "inspect", target).stdout)
        assert info["Architecture"] == arch


def test_buildah_builds_on_a_pulled_base_and_pushes(
    server: WharfServer,
    client: httpx.Client,
    buildah: ContainerTool,
    skopeo: Skopeo,
    repo: str,
    salt: str,
    tmp_path: Path,
) -> None:
    layout = build_single_arch(tmp_path / "src", salt)
    [base_image] = layout.images
    load_layout_or_skip(buildah, layout, "pull")
    base_repo = f"{repo}-base"
    skopeo.copy(layout.ref, f"docker://{server.host}/{base_repo}:1", "--preserve-digests")

    # A fresh store, so the base really comes from the registry.
    builder = buildah.fresh("build")
    container = builder(
        "from", builder.policy_flag, "--tls-verify=false", "--quiet",
        "--name", f"wharf-interop-{salt[:12]}", f"{server.host}/{base_repo}:1",
    ).stdout.strip().splitlines()[-1]
    added = tmp_path / "added.txt"
    added.write_text(f"added by buildah {salt}\n")
    builder("copy", container, str(added), "/opt/wharf-interop/added.txt")
    builder("config", "--label", "org.example.built-by=buildah", container)
    built = builder("commit", "--quiet", "--format", "oci", container, "localhost/wharf-built:1")
    built_id = built.stdout.strip().splitlines()[-1]

    digest_file = tmp_path / "pushed.digest"
    target = f"{server.host}/{repo}:built"
    builder(
        "push", builder.policy_flag, "--tls-verify=false", "--quiet",
        "--digestfile", str(digest_file), "localhost/wharf-built:1", f"docker://{target}",
    )

    served_digest, manifest = fetch_manifest(client, repo, "built")
    assert served_digest == digest_file.read_text().strip()
    config = assert_pushed_image_matches(client, repo, manifest, f"sha256:{built_id}")
    base_diff_ids = [layer.diff_id for layer in base_image.layers]
    assert config["rootfs"]["diff_ids"][:2] == base_diff_ids
    assert len(config["rootfs"]["diff_ids"]) == 3
    assert config["config"]["Labels"]["org.example.built-by"] == "buildah"
    new_layer = uncompressed_layers(client, repo, manifest)[2]
    with tarfile.open(fileobj=io.BytesIO(new_layer)) as tar:
        member = tar.extractfile("opt/wharf-interop/added.txt")
        assert member is not None
        assert member.read() == added.read_bytes()

    fresh = buildah.fresh("fresh")
    pulled = fresh("pull", fresh.policy_flag, "--tls-verify=false", "--quiet", target)
    assert pulled.stdout.strip().splitlines()[-1] == built_id
    assert hashlib.sha256(fetch_blob(client, repo, f"sha256:{built_id}")).hexdigest() == built_id
