"""Real clients through the balancer: every request may land on another node."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import pytest

from tests.interop.clients import ClientConfig, Skopeo, require_tool
from tests.scale.conftest import PROJECT, Cluster
from tests.support.images import (
    OCI_INDEX,
    build_multi_arch,
    build_single_arch,
    read_layout_blob,
    read_layout_index,
)

pytestmark = pytest.mark.scale


@pytest.fixture
def skopeo(cluster: Cluster, tmp_path: Path) -> Skopeo:
    config = ClientConfig.create(tmp_path / "client")
    cluster.auth_file(config.auth_file)
    return Skopeo(require_tool("skopeo"), config)


def repo() -> str:
    return f"{PROJECT}/{uuid.uuid4().hex[:8]}/app"


def test_skopeo_single_arch_push_and_pull(cluster: Cluster, skopeo: Skopeo,
                                          tmp_path: Path) -> None:
    layout = build_single_arch(tmp_path / "src", uuid.uuid4().hex)
    name = repo()
    ref = f"docker://{cluster.lb.host}/{name}:1"
    skopeo.copy(layout.ref, ref, "--preserve-digests")
    assert skopeo.inspect_raw(ref) == layout.top.data
    pulled = tmp_path / "pulled"
    skopeo.copy(ref, f"oci:{pulled}:1", "--preserve-digests")
    [entry] = read_layout_index(pulled)["manifests"]
    assert entry["digest"] == layout.digest
    for digest, blob in layout.all_blobs().items():
        assert read_layout_blob(pulled, digest) == blob.data
    # Every node serves it: nothing of the push stayed on the node that took it.
    for node in cluster.nodes:
        with cluster.client(node) as c:
            resp = c.get(f"/v2/{name}/manifests/1", headers={"Accept": layout.top.media_type})
            assert resp.status_code == 200
            assert resp.content == layout.top.data


def test_skopeo_multi_arch_push_and_pull_all(cluster: Cluster, skopeo: Skopeo,
                                             tmp_path: Path) -> None:
    layout = build_multi_arch(tmp_path / "src", uuid.uuid4().hex)
    ref = f"docker://{cluster.lb.host}/{repo()}:multi"
    skopeo.copy(layout.ref, ref, "--all", "--preserve-digests")
    raw = skopeo.inspect_raw(ref)
    assert raw == layout.top.data
    assert json.loads(raw)["mediaType"] == OCI_INDEX
    pulled = tmp_path / "pulled"
    skopeo.copy(ref, f"oci:{pulled}:multi", "--all", "--preserve-digests")
    [entry] = read_layout_index(pulled)["manifests"]
    assert entry["digest"] == layout.digest
    for digest, blob in layout.all_blobs().items():
        assert read_layout_blob(pulled, digest) == blob.data


def test_oras_push_and_pull_byte_identical(cluster: Cluster, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import oras.client

    monkeypatch.setenv("HOME", str(tmp_path))
    auth = cluster.auth_file(tmp_path / "auth.json")
    payload = tmp_path / "artifact.bin"
    # Over one S3 part (8 MiB) so the upload is a real multipart upload.
    payload.write_bytes(hashlib.sha256(b"seed").digest() * (300_000))
    client = oras.client.OrasClient(hostname=cluster.lb.host, insecure=True)
    # Basic credentials on every request: wharf takes them on /v2/ as well as at its token
    # endpoint, and oras-py would otherwise reuse a pull-only token for the push.
    client.session.auth = ("admin", cluster.nodes[0].admin_password)
    target = f"{cluster.lb.host}/{repo()}:v1"
    client.push(files=[str(payload)], target=target, config_path=str(auth),
                disable_path_validation=True)
    outdir = tmp_path / "out"
    files = client.pull(target=target, outdir=str(outdir), config_path=str(auth))
    [pulled] = [Path(f) for f in files]
    assert hashlib.sha256(pulled.read_bytes()).digest() == \
        hashlib.sha256(payload.read_bytes()).digest()
