"""A Kubernetes validating admission webhook (`admission.k8s.io/v1` AdmissionReview).

Every container image of the object under review (a Pod, or the pod template of a
Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job or CronJob:
containers, initContainers and ephemeralContainers) that is on this registry is resolved
to a digest and must satisfy its project's signature policy and, when a vulnerability
gate is wired, its vulnerability policy. Images on other registries are allowed or denied
per `foreign_images`. Anything the webhook cannot read is denied, never waved through.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wharf.errors import RegistryError
from wharf.oci.names import project_of
from wharf.oci.reference import ImageReference, parse_image_reference
from wharf.signatures.service import NOT_SIGNED_MESSAGE, SignatureService

# (repository, digest) -> why the image is refused, or None.
VulnerabilityGate = Callable[[str, str], str | None]

API_VERSION = "admission.k8s.io/v1"
_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet",
                   "ReplicationController", "Job"}
_CONTAINER_FIELDS = ("initContainers", "containers", "ephemeralContainers")
_CHECKED_OPERATIONS = {"CREATE", "UPDATE"}


class AdmissionError(ValueError):
    """The document is not an AdmissionReview this webhook can answer."""


@dataclass(frozen=True, slots=True)
class ImageVerdict:
    image: str
    allowed: bool
    reason: str | None = None
    digest: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"image": self.image, "allowed": self.allowed, "reason": self.reason,
                "digest": self.digest}


@dataclass(frozen=True, slots=True)
class AdmissionDecision:
    uid: str
    allowed: bool
    message: str
    images: list[ImageVerdict] = field(default_factory=list)

    def review(self) -> dict[str, Any]:
        response: dict[str, Any] = {"uid": self.uid, "allowed": self.allowed,
                                    "status": {"code": 200 if self.allowed else 403,
                                               "message": self.message}}
        if not self.allowed:
            response["status"]["reason"] = "Forbidden"
        return {"apiVersion": API_VERSION, "kind": "AdmissionReview", "response": response}


def pod_spec(kind: str, obj: dict[str, Any]) -> dict[str, Any] | None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return None
    if kind == "Pod":
        return spec
    if kind in _TEMPLATE_KINDS:
        template = spec.get("template")
    elif kind == "CronJob":
        job = spec.get("jobTemplate")
        job_spec = job.get("spec") if isinstance(job, dict) else None
        template = job_spec.get("template") if isinstance(job_spec, dict) else None
    else:
        return None
    inner = template.get("spec") if isinstance(template, dict) else None
    return inner if isinstance(inner, dict) else None


def container_images(spec: dict[str, Any]) -> list[str]:
    images: list[str] = []
    for key in _CONTAINER_FIELDS:
        containers = spec.get(key) or []
        if not isinstance(containers, list):
            raise AdmissionError(f"spec.{key} is not a list")
        for container in containers:
            image = container.get("image") if isinstance(container, dict) else None
            if not isinstance(image, str):
                raise AdmissionError(f"a container in spec.{key} has no image")
            if image not in images:
                images.append(image)
    return images


class AdmissionService:
    def __init__(self, signatures: SignatureService, hosts: frozenset[str],
                 foreign_images: str = "allow",
                 vulnerabilities: VulnerabilityGate | None = None) -> None:
        self.signatures = signatures
        self.hosts = frozenset(h.lower() for h in hosts)
        self.deny_foreign = foreign_images == "deny"
        self.vulnerabilities = vulnerabilities

    def review(self, document: Any, request_host: str | None = None) -> AdmissionDecision:
        """Answer an AdmissionReview; AdmissionError when it is not one."""
        if not isinstance(document, dict) or document.get("kind") != "AdmissionReview":
            raise AdmissionError("expected an AdmissionReview")
        if document.get("apiVersion") != API_VERSION:
            raise AdmissionError(f"expected apiVersion {API_VERSION}")
        request = document.get("request")
        if not isinstance(request, dict) or not isinstance(request.get("uid"), str):
            raise AdmissionError("request.uid is required")
        uid = request["uid"]
        if request.get("operation", "CREATE") not in _CHECKED_OPERATIONS:
            return AdmissionDecision(uid, True, "operation not checked")
        kind_doc = request.get("kind")
        kind = kind_doc.get("kind") if isinstance(kind_doc, dict) else None
        obj = request.get("object")
        if not isinstance(obj, dict) or not isinstance(kind, str):
            raise AdmissionError("request.kind and request.object are required")
        spec = pod_spec(kind, obj)
        if spec is None:
            return AdmissionDecision(uid, True, f"{kind} has no pod spec to check")
        hosts = self.hosts or frozenset({(request_host or "").lower()})
        verdicts = [self.check_image(image, hosts) for image in container_images(spec)]
        refused = [v for v in verdicts if not v.allowed]
        if refused:
            message = "; ".join(f"{v.image}: {v.reason}" for v in refused)
            return AdmissionDecision(uid, False, message, verdicts)
        return AdmissionDecision(uid, True, f"{len(verdicts)} image(s) allowed", verdicts)

    def check_image(self, image: str, hosts: frozenset[str]) -> ImageVerdict:
        try:
            ref = parse_image_reference(image)
        except ValueError as exc:
            return ImageVerdict(image, False, str(exc))
        if ref.host not in hosts:
            if self.deny_foreign:
                return ImageVerdict(image, False, f"images from {ref.host} are not allowed")
            return ImageVerdict(image, True, "not on this registry")
        return self._check_local(image, ref)

    def _check_local(self, image: str, ref: ImageReference) -> ImageVerdict:
        try:
            # A digest pins the image; a tag is resolved now, as the kubelet would.
            digest = self.signatures.resolve(ref.repository, ref.digest or ref.tag or "latest")
        except RegistryError:
            return ImageVerdict(image, False, "image not found in this registry")
        trust = self.signatures.trust_of(project_of(ref.repository))
        if trust is not None and trust.require_signed and not self.signatures.is_trusted(
                ref.repository, digest):
            return ImageVerdict(image, False, NOT_SIGNED_MESSAGE, str(digest))
        if self.vulnerabilities is not None:
            reason = self.vulnerabilities(ref.repository, str(digest))
            if reason is not None:
                return ImageVerdict(image, False, reason, str(digest))
        return ImageVerdict(image, True, None, str(digest))
