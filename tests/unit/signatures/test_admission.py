"""Admission decisions without a server: pod specs of every kind, the vulnerability gate."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from wharf import errors
from wharf.errors import RegistryError
from wharf.oci.digest import Digest
from wharf.signatures.admission import (
    AdmissionError,
    AdmissionService,
    container_images,
    pod_spec,
)
from wharf.signatures.keys import key_set_hash
from wharf.signatures.service import ProjectTrust
from wharf.signatures.verifier import TrustSet

HOST = "registry.example.com"
SIGNED, UNSIGNED = Digest.of(b"signed"), Digest.of(b"unsigned")


class FakeSignatures:
    """The three questions admission asks of the signature service."""

    tags: ClassVar[dict[tuple[str, str], Digest]] = {("acme/web", "1.0"): SIGNED,
                                                     ("acme/api", "1.0"): UNSIGNED}

    def resolve(self, repository: str, reference: str) -> Digest:
        if reference.startswith("sha256:"):
            return Digest.parse(reference)
        found = self.tags.get((repository, reference))
        if found is None:
            raise RegistryError(errors.MANIFEST_UNKNOWN)
        return found

    def trust_of(self, project: str) -> ProjectTrust | None:
        return ProjectTrust(project, True, TrustSet((), key_set_hash([])))

    def is_trusted(self, _repository: str, digest: Digest) -> bool:
        return digest == SIGNED


def service(vulnerable: set[str] | None = None, foreign: str = "allow") -> AdmissionService:
    def gate(_repository: str, digest: str) -> str | None:
        return "image contains CRITICAL vulnerability CVE-1" if digest in (vulnerable or set()) \
            else None

    return AdmissionService(FakeSignatures(), frozenset({HOST}), foreign,  # type: ignore[arg-type]
                            gate)


def review(images: list[str], kind: str = "Pod", operation: str = "CREATE") -> dict[str, Any]:
    spec = {"containers": [{"name": str(i), "image": im} for i, im in enumerate(images)]}
    obj: dict[str, Any] = {"spec": spec} if kind == "Pod" else \
        {"spec": {"template": {"spec": spec}}}
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "u-1", "kind": {"kind": kind}, "operation": operation,
                        "object": obj}}


def test_signed_allowed_unsigned_denied() -> None:
    decision = service().review(review([f"{HOST}/acme/web:1.0", f"{HOST}/acme/api:1.0"]))
    assert not decision.allowed
    assert decision.message == f"{HOST}/acme/api:1.0: image is not signed by trusted key"
    assert [v.digest for v in decision.images] == [str(SIGNED), str(UNSIGNED)]
    assert decision.review()["response"]["status"] == {
        "code": 403, "message": decision.message, "reason": "Forbidden"}


def test_vulnerability_policy_is_checked() -> None:
    decision = service({str(SIGNED)}).review(review([f"{HOST}/acme/web:1.0"], "Deployment"))
    assert not decision.allowed
    assert decision.message.endswith("image contains CRITICAL vulnerability CVE-1")


def test_foreign_images() -> None:
    assert service().review(review(["nginx:1.25"])).allowed
    denied = service(foreign="deny").review(review(["nginx:1.25"]))
    assert denied.message == "nginx:1.25: images from docker.io are not allowed"


def test_kinds_without_pods_and_deletes_are_allowed() -> None:
    assert service().review(review([f"{HOST}/acme/api:1.0"], "Service")).allowed
    assert service().review(review([f"{HOST}/acme/api:1.0"], operation="DELETE")).allowed


@pytest.mark.parametrize("document", [None, [], {"kind": "Pod"},
                                      {"kind": "AdmissionReview", "apiVersion": "v1beta1"},
                                      {"kind": "AdmissionReview",
                                       "apiVersion": "admission.k8s.io/v1", "request": {}}])
def test_not_an_admission_review(document: Any) -> None:
    with pytest.raises(AdmissionError):
        service().review(document)


def test_cronjob_spec_and_container_lists() -> None:
    inner = {"containers": [{"image": "a"}], "initContainers": [{"image": "b"}],
             "ephemeralContainers": [{"image": "a"}]}
    cron = {"spec": {"jobTemplate": {"spec": {"template": {"spec": inner}}}}}
    spec = pod_spec("CronJob", cron)
    assert spec is not None
    assert container_images(spec) == ["b", "a"]
    with pytest.raises(AdmissionError):
        container_images({"containers": [{"name": "no image"}]})
