"""The validating admission webhook, with real `admission.k8s.io/v1` AdmissionReviews."""

from __future__ import annotations

import copy
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.images import build_single_arch
from tests.support.scanning import Cli, cli, push, requires_skopeo, unique
from tests.support.server import ADMISSION_TOKEN, WharfServer
from tests.support.signing import KeyPair, generate_key, new_project, run_cli

WEBHOOK_AUTH = {"Authorization": f"Bearer {ADMISSION_TOKEN}"}

__all__ = ["cli"]
pytestmark = requires_skopeo


def review(kind: str, obj: dict[str, Any], operation: str = "CREATE") -> dict[str, Any]:
    """An AdmissionReview as the API server sends it (fields as in a real request)."""
    group, version = {"Pod": ("", "v1"), "CronJob": ("batch", "v1"),
                      "Job": ("batch", "v1")}.get(kind, ("apps", "v1"))
    resource = kind.lower() + "s"
    return {
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.uuid4()),
            "kind": {"group": group, "version": version, "kind": kind},
            "resource": {"group": group, "version": version, "resource": resource},
            "requestKind": {"group": group, "version": version, "kind": kind},
            "requestResource": {"group": group, "version": version, "resource": resource},
            "name": obj["metadata"]["name"], "namespace": "prod", "operation": operation,
            "userInfo": {"username": "system:serviceaccount:kube-system:deployer",
                         "groups": ["system:serviceaccounts"]},
            "object": obj, "oldObject": None, "dryRun": False,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    }


def pod(*images: str, init: tuple[str, ...] = (), ephemeral: tuple[str, ...] = ()
        ) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "prod"},
            "spec": {"containers": [{"name": f"c{i}", "image": im}
                                    for i, im in enumerate(images)],
                     "initContainers": [{"name": f"i{i}", "image": im}
                                        for i, im in enumerate(init)],
                     "ephemeralContainers": [{"name": f"e{i}", "image": im}
                                             for i, im in enumerate(ephemeral)]}}


def deployment(image: str, kind: str = "Deployment") -> dict[str, Any]:
    template = {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": image}]}}
    spec: dict[str, Any] = {"selector": {"matchLabels": {"app": "web"}}, "template": template}
    if kind == "CronJob":
        spec = {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": template}}}
    return {"apiVersion": "apps/v1", "kind": kind,
            "metadata": {"name": "web", "namespace": "prod"}, "spec": spec}


def admit(server: WharfServer, document: dict[str, Any]) -> dict[str, Any]:
    resp = httpx.post(f"{server.url}/admission/validate", json=document, timeout=30,
                      headers=WEBHOOK_AUTH)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["apiVersion"] == "admission.k8s.io/v1"
    assert body["kind"] == "AdmissionReview"
    assert body["response"]["uid"] == document["request"]["uid"]
    response: dict[str, Any] = body["response"]
    return response


@pytest.fixture(scope="module")
def keypair(cli: Cli, tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return generate_key(cli, tmp_path_factory.mktemp("admission-keys"))


@pytest.fixture(scope="module")
def images(server: WharfServer, cli: Cli, keypair: KeyPair,
           tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A project requiring signatures with a signed and an unsigned image, and an open
    project with an unsigned one."""
    tmp = tmp_path_factory.mktemp("admission-images")
    prod, dev = new_project(server), new_project(server)
    cli.run("policy", "set", "--project", prod, "--require-signed",
            "--trusted-key", str(keypair.public))
    refs = {}
    for key, target in (("signed", f"{prod}/web:1.0"), ("unsigned", f"{prod}/api:1.0"),
                        ("open", f"{dev}/tool:1.0")):
        layout = build_single_arch(tmp / unique("l"), unique("s"))
        assert push(server, layout.ref, target).returncode == 0
        refs[key] = f"{server.host}/{target}"
    run_cli(cli, "image", "sign", "--key", str(keypair.private), f"{prod}/web:1.0")
    return refs


def test_pod_with_unsigned_image_is_denied(server: WharfServer, images: dict[str, str]) -> None:
    response = admit(server, review("Pod", pod(images["signed"], images["unsigned"])))
    assert response["allowed"] is False
    assert response["status"]["code"] == 403
    assert response["status"]["message"] == \
        f"{images['unsigned']}: image is not signed by trusted key"


def test_pod_with_signed_images_is_allowed(server: WharfServer, images: dict[str, str]) -> None:
    response = admit(server, review("Pod", pod(images["signed"], images["open"],
                                               init=("docker.io/library/busybox:1.36",))))
    assert response["allowed"] is True, response


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet",
                                  "Job", "CronJob"])
def test_pod_templates_are_checked(server: WharfServer, images: dict[str, str],
                                   kind: str) -> None:
    assert admit(server, review(kind, deployment(images["signed"], kind)))["allowed"] is True
    denied = admit(server, review(kind, deployment(images["unsigned"], kind)))
    assert denied["allowed"] is False
    assert "image is not signed by trusted key" in denied["status"]["message"]


def test_init_and_ephemeral_containers_are_checked(
        server: WharfServer, images: dict[str, str]) -> None:
    for doc in (pod(images["signed"], init=(images["unsigned"],)),
                pod(images["signed"], ephemeral=(images["unsigned"],))):
        assert admit(server, review("Pod", doc))["allowed"] is False


def test_digest_references_and_unknown_images(server: WharfServer, client: httpx.Client,
                                              images: dict[str, str]) -> None:
    repo_ref = images["signed"].split("/", 1)[1]
    name, tag = repo_ref.rsplit(":", 1)
    digest = client.head(f"/v2/{name}/manifests/{tag}", headers={
        "Accept": "application/vnd.oci.image.manifest.v1+json"}).headers["docker-content-digest"]
    pinned = f"{server.host}/{name}@{digest}"
    assert admit(server, review("Pod", pod(pinned)))["allowed"] is True
    missing = admit(server, review("Pod", pod(f"{server.host}/{name}:nope")))
    assert missing["allowed"] is False
    assert "not found" in missing["status"]["message"]


def test_delete_is_not_checked_and_malformed_reviews_are_rejected(
        server: WharfServer, images: dict[str, str]) -> None:
    doc = review("Pod", pod(images["unsigned"]), operation="DELETE")
    assert admit(server, doc)["allowed"] is True
    broken = copy.deepcopy(review("Pod", pod(images["signed"])))
    del broken["request"]["uid"]
    resp = httpx.post(f"{server.url}/admission/validate", json=broken, headers=WEBHOOK_AUTH)
    assert resp.status_code == 400
    assert resp.json()["errors"][0]["code"] == "INVALID_REQUEST"
    assert httpx.post(f"{server.url}/admission/validate", content=b"{",
                      headers=WEBHOOK_AUTH).status_code == 400


def test_webhook_requires_its_token(server: WharfServer) -> None:
    document = review("Pod", pod(f"{server.host}/sig/none:latest"))
    url = f"{server.url}/admission/validate"
    assert httpx.post(url, json=document).status_code == 401
    wrong = httpx.post(url, json=document, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_foreign_images_can_be_denied(tmp_path: Path) -> None:
    srv = WharfServer(data_dir=tmp_path / "data",
                      env={"WHARF_SIGNATURES__ADMISSION_FOREIGN_IMAGES": "deny"})
    srv.start()
    try:
        response = admit(srv, review("Pod", pod("nginx:1.25")))
        assert response["allowed"] is False
        assert response["status"]["message"] == \
            "nginx:1.25: images from docker.io are not allowed"
    finally:
        srv.stop()
