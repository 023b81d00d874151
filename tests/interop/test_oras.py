"""The oras Python SDK pushing artefacts (a Helm chart, an SBOM and a signature with a subject).

Referrers are then listed with ``GET /v2/<name>/referrers/<digest>`` as the distribution spec
(v1.1) describes: an image index of descriptors carrying ``artifactType`` and annotations.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
import oras.client
import oras.oci
import pytest
import requests

from tests.interop.checks import get_manifest
from tests.interop.clients import Skopeo
from tests.support.images import (
    OCI_INDEX,
    OCI_MANIFEST,
    build_single_arch,
    make_tar,
    sha256_digest,
)
from tests.support.server import WharfServer

pytestmark = pytest.mark.interop

HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_CHART = "application/vnd.cncf.helm.chart.content.v1.tar.gz"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
SPDX = "application/spdx+json"
SIGNATURE_CONFIG = "application/vnd.wharf.test.signature.config.v1+json"
SIGNATURE = "application/vnd.wharf.test.signature.v1"
TITLE = "org.opencontainers.image.title"


@pytest.fixture
def oras_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private HOME (oras reads ~/.docker/config.json) and an empty auth config."""
    home = tmp_path / "oras-home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    (home / "auth.json").write_text(json.dumps({"auths": {}}))
    return home


@pytest.fixture
def oras_client(server: WharfServer, oras_home: Path) -> Iterator[oras.client.OrasClient]:
    # oras-py reuses one bearer token for every scope, so it logs in with Basic directly.
    client = oras.client.OrasClient(hostname=server.host, insecure=True, auth_backend="basic")
    client.auth.set_basic_auth("admin", server.admin_password)
    yield client
    client.session.close()


def file_descriptor(path: Path, media_type: str) -> dict[str, Any]:
    data = path.read_bytes()
    return {"mediaType": media_type, "digest": sha256_digest(data), "size": len(data)}


def make_chart(tmp_path: Path, name: str, version: str) -> tuple[Path, Path]:
    """A minimal Helm chart package (``<name>-<version>.tgz``) and its config JSON."""
    chart_yaml = f"apiVersion: v2\nname: {name}\nversion: {version}\ntype: application\n"
    files = {
        f"{name}/Chart.yaml": chart_yaml.encode(),
        f"{name}/values.yaml": b"greeting: hello\n",
        f"{name}/templates/configmap.yaml": (
            b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"
            b"data:\n  greeting: {{ .Values.greeting }}\n"
        ),
    }
    package = tmp_path / f"{name}-{version}.tgz"
    package.write_bytes(gzip.compress(make_tar(files), mtime=0))
    config = tmp_path / "chart-config.json"
    config.write_text(
        json.dumps({"apiVersion": "v2", "name": name, "version": version, "type": "application"})
    )
    return package, config


def test_helm_chart_push_and_pull_byte_identical(
    server: WharfServer,
    client: httpx.Client,
    oras_client: oras.client.OrasClient,
    oras_home: Path,
    repo: str,
    tmp_path: Path,
) -> None:
    package, config = make_chart(tmp_path, "wharfchart", "0.1.0")
    target = f"{server.host}/{repo}:0.1.0"
    auth = str(oras_home / "auth.json")

    pushed = oras_client.push(
        target=target,
        files=[f"{package}:{HELM_CHART}"],
        manifest_config=f"{config}:{HELM_CONFIG}",
        disable_path_validation=True,
        config_path=auth,
        quiet=True,
    )
    assert pushed.status_code == 201

    raw = get_manifest(client, repo, "0.1.0")
    assert raw.status_code == 200
    assert pushed.headers["Docker-Content-Digest"] == sha256_digest(raw.content)
    manifest = oras_client.get_manifest(target)
    assert manifest["config"] == file_descriptor(config, HELM_CONFIG)
    [layer] = manifest["layers"]
    assert layer == {
        **file_descriptor(package, HELM_CHART),
        "annotations": {TITLE: package.name},
    }

    outdir = tmp_path / "pulled"
    files = oras_client.pull(target=target, outdir=str(outdir), config_path=auth)
    assert files == [str(outdir / package.name)]
    assert (outdir / package.name).read_bytes() == package.read_bytes()
    config_blob = oras_client.get_blob(target, manifest["config"]["digest"])
    assert config_blob.status_code == 200
    assert config_blob.content == config.read_bytes()
    assert oras_client.get_tags(target) == ["0.1.0"]


def test_chunked_upload_of_a_larger_artefact(
    server: WharfServer,
    oras_client: oras.client.OrasClient,
    oras_home: Path,
    repo: str,
    tmp_path: Path,
) -> None:
    """oras' POST, PATCH (Content-Range) ..., PUT ?digest= upload in 64 KiB chunks."""
    payload = tmp_path / "payload.bin"
    payload.write_bytes(os.urandom(300_000))  # five chunks, the last one short
    target = f"{server.host}/{repo}:chunked"
    auth = str(oras_home / "auth.json")

    oras_client.push(
        target=target,
        files=[f"{payload}:application/octet-stream"],
        disable_path_validation=True,
        config_path=auth,
        do_chunked=True,
        chunk_size=64 * 1024,
        quiet=True,
    )

    outdir = tmp_path / "pulled"
    oras_client.pull(target=target, outdir=str(outdir), config_path=auth)
    assert (outdir / payload.name).read_bytes() == payload.read_bytes()


def manifest_digest(client: httpx.Client, repo: str, reference: str) -> tuple[str, int]:
    """Digest and size of a manifest, computed from the bytes the registry serves."""
    resp = get_manifest(client, repo, reference)
    assert resp.status_code == 200, resp.text
    return sha256_digest(resp.content), len(resp.content)


def push_sbom(
    oras_client: oras.client.OrasClient,
    target: str,
    subject: oras.oci.Subject,
    tmp_path: Path,
    annotations: dict[str, str],
) -> requests.Response:
    """An SBOM the way ``oras attach --artifact-type`` builds it: empty config + artifactType.

    Uses the SDK's blob and manifest calls, since ``OrasClient.push`` cannot set artifactType.
    """
    sbom = tmp_path / "sbom.spdx.json"
    sbom.write_text(json.dumps({"spdxVersion": "SPDX-2.3", "name": "wharf-interop"}))
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"{}")
    layer = {**file_descriptor(sbom, SPDX), "annotations": {TITLE: sbom.name}}
    config = file_descriptor(empty, OCI_EMPTY)
    container = oras_client.get_container(target)
    for path, descriptor in ((sbom, layer), (empty, config)):
        uploaded = oras_client.upload_blob(str(path), container, descriptor)
        assert uploaded.status_code in (200, 201), uploaded.text
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": SPDX,
        "config": config,
        "layers": [layer],
        "subject": asdict(subject),
        "annotations": annotations,
    }
    response: requests.Response = oras_client.upload_manifest(manifest, container)
    return response


def push_signature(
    oras_client: oras.client.OrasClient,
    target: str,
    subject: oras.oci.Subject,
    tmp_path: Path,
    annotations: dict[str, str],
) -> requests.Response:
    """A referrer without artifactType, so the registry must report its config media type."""
    signature = tmp_path / "image.sig"
    signature.write_bytes(hashlib.sha256(subject.digest.encode()).digest())
    config = tmp_path / "signature-config.json"
    config.write_text(json.dumps({"signer": "wharf-interop"}))
    response: requests.Response = oras_client.push(
        target=target,
        files=[f"{signature}:{SIGNATURE}"],
        manifest_config=f"{config}:{SIGNATURE_CONFIG}",
        manifest_annotations=annotations,
        subject=subject,
        disable_path_validation=True,
        quiet=True,
    )
    return response


def referrers(
    client: httpx.Client, repo: str, digest: str, artifact_type: str | None = None
) -> httpx.Response:
    params = {"artifactType": artifact_type} if artifact_type else {}
    resp = client.get(f"/v2/{repo}/referrers/{digest}", params=params)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == OCI_INDEX
    body = resp.json()
    assert body["schemaVersion"] == 2
    assert body["mediaType"] == OCI_INDEX
    return resp


def descriptors_by_digest(resp: httpx.Response) -> dict[str, dict[str, Any]]:
    manifests: list[dict[str, Any]] = resp.json()["manifests"]
    by_digest = {desc["digest"]: desc for desc in manifests}
    assert len(by_digest) == len(manifests), f"duplicate referrers: {manifests}"
    return by_digest


def expected_descriptor(
    digest: str, size: int, artifact_type: str, annotations: dict[str, str]
) -> dict[str, Any]:
    return {
        "mediaType": OCI_MANIFEST,
        "digest": digest,
        "size": size,
        "artifactType": artifact_type,
        "annotations": annotations,
    }


def test_referrers_list_sbom_and_signature_of_an_image(
    server: WharfServer,
    client: httpx.Client,
    skopeo: Skopeo,
    oras_client: oras.client.OrasClient,
    repo: str,
    salt: str,
    tmp_path: Path,
) -> None:
    layout = build_single_arch(tmp_path / "image", salt)
    skopeo.copy(layout.ref, f"docker://{server.host}/{repo}:1", "--preserve-digests")
    subject = oras.oci.Subject(OCI_MANIFEST, layout.digest, layout.top.size)
    assert referrers(client, repo, layout.digest).json()["manifests"] == []

    sbom_annotations = {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"}
    sbom_push = push_sbom(
        oras_client, f"{server.host}/{repo}:sbom", subject, tmp_path, sbom_annotations
    )
    assert sbom_push.status_code == 201, sbom_push.text
    assert sbom_push.headers.get("OCI-Subject") == layout.digest
    sig_annotations = {"org.example.signer": "wharf-interop"}
    sig_push = push_signature(
        oras_client, f"{server.host}/{repo}:sig", subject, tmp_path, sig_annotations
    )
    assert sig_push.status_code == 201, sig_push.text
    assert sig_push.headers.get("OCI-Subject") == layout.digest

    sbom_digest, sbom_size = manifest_digest(client, repo, "sbom")
    sig_digest, sig_size = manifest_digest(client, repo, "sig")
    sbom = expected_descriptor(sbom_digest, sbom_size, SPDX, sbom_annotations)
    sig = expected_descriptor(sig_digest, sig_size, SIGNATURE_CONFIG, sig_annotations)

    assert descriptors_by_digest(referrers(client, repo, layout.digest)) == {
        sbom_digest: sbom,
        sig_digest: sig,
    }

    filtered = referrers(client, repo, layout.digest, artifact_type=SPDX)
    assert filtered.headers.get("OCI-Filters-Applied") == "artifactType"
    assert filtered.json()["manifests"] == [sbom]
    unmatched = referrers(client, repo, layout.digest, artifact_type="application/x-none")
    assert unmatched.json()["manifests"] == []

    # The referrers themselves have none.
    assert referrers(client, repo, sbom_digest).json()["manifests"] == []

    # Deleting a referrer takes it out of the list.
    deleted = client.delete(f"/v2/{repo}/manifests/{sig_digest}")
    assert deleted.status_code == 202, deleted.text
    assert descriptors_by_digest(referrers(client, repo, layout.digest)) == {sbom_digest: sbom}


def test_referrer_may_be_pushed_before_its_subject(
    server: WharfServer,
    client: httpx.Client,
    skopeo: Skopeo,
    oras_client: oras.client.OrasClient,
    repo: str,
    salt: str,
    tmp_path: Path,
) -> None:
    layout = build_single_arch(tmp_path / "image", salt)
    subject = oras.oci.Subject(OCI_MANIFEST, layout.digest, layout.top.size)

    annotations = {"org.example.order": "referrer-first"}
    pushed = push_sbom(oras_client, f"{server.host}/{repo}:sbom", subject, tmp_path, annotations)
    assert pushed.status_code == 201, pushed.text
    sbom_digest, sbom_size = manifest_digest(client, repo, "sbom")
    expected = {sbom_digest: expected_descriptor(sbom_digest, sbom_size, SPDX, annotations)}
    assert descriptors_by_digest(referrers(client, repo, layout.digest)) == expected

    skopeo.copy(layout.ref, f"docker://{server.host}/{repo}:1", "--preserve-digests")
    assert skopeo.inspect_raw(f"docker://{server.host}/{repo}:1") == layout.top.data
    assert descriptors_by_digest(referrers(client, repo, layout.digest)) == expected
