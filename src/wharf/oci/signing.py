"""Signature artefacts as cosign and Notary v2 (notation) store them in a registry.

Pure format code: names, media types and the exact bytes cosign writes, so a signature
made by wharf is the one `cosign sign --key` would have pushed, and one pushed by cosign
is recognised. Sources: cosign `pkg/oci/static`, `pkg/cosign/payload`, the `ociremote`
tag scheme; notaryproject `specs/signature-specification.md`.

Tag scheme (cosign): the signatures of image `sha256:<hex>` live in the same repository
under tag `sha256-<hex>.sig`; attestations under `.att`, SBOMs under `.sbom`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from wharf.oci import mediatypes as mt
from wharf.oci.digest import Digest

# cosign
SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
CERTIFICATE_ANNOTATION = "dev.sigstore.cosign/certificate"
BUNDLE_ANNOTATION = "dev.sigstore.cosign/bundle"
COSIGN_SIGNATURE_TYPE = "cosign container image signature"
# artifactType cosign gives signatures it stores as OCI 1.1 referrers.
COSIGN_ARTIFACT_SIG = "application/vnd.dev.cosign.artifact.sig.v1+json"
COSIGN_ARTIFACT_ATT = "application/vnd.dev.cosign.artifact.att.v1+json"
COSIGN_ARTIFACT_SBOM = "application/vnd.dev.cosign.artifact.sbom.v1+json"
SIGSTORE_BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"
DSSE_ENVELOPE = "application/vnd.dsse.envelope.v1+json"
IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"
# Notary v2
NOTARY_SIGNATURE = "application/vnd.cncf.notary.signature"
NOTARY_PAYLOAD = "application/vnd.cncf.notary.payload.v1+json"
JWS_ENVELOPE = "application/jose+json"
COSE_ENVELOPE = "application/cose"

TAG_SUFFIXES = {"sig": "cosign", "att": "attestation", "sbom": "sbom"}
_TAG_SCHEME = re.compile(r"^(sha256|sha512)-([a-f0-9]{64}|[a-f0-9]{128})\.(sig|att|sbom)$")

# Signature kinds as listed by the API.
KIND_COSIGN = "cosign"
KIND_NOTARY = "notary"
KIND_ATTESTATION = "attestation"
KIND_SBOM = "sbom"
REFERRER_KINDS = {
    COSIGN_ARTIFACT_SIG: KIND_COSIGN,
    SIGSTORE_BUNDLE: KIND_COSIGN,
    COSIGN_ARTIFACT_ATT: KIND_ATTESTATION,
    COSIGN_ARTIFACT_SBOM: KIND_SBOM,
    NOTARY_SIGNATURE: KIND_NOTARY,
}


def signature_tag(digest: Digest, suffix: str = "sig") -> str:
    """cosign's tag for the signatures (`sig`), attestations or SBOMs of `digest`."""
    if suffix not in TAG_SUFFIXES:
        raise ValueError(f"unknown cosign tag suffix {suffix!r}")
    return f"{digest.algorithm}-{digest.encoded}.{suffix}"


def parse_signature_tag(tag: str) -> tuple[Digest, str] | None:
    """The subject digest and kind (`cosign`, `attestation`, `sbom`) a tag names."""
    match = _TAG_SCHEME.match(tag)
    if match is None:
        return None
    algorithm, encoded, suffix = match.groups()
    if len(encoded) != (64 if algorithm == "sha256" else 128):
        return None
    return Digest(algorithm, encoded), TAG_SUFFIXES[suffix]


def simple_signing_payload(docker_reference: str, digest: Digest,
                           annotations: dict[str, str] | None = None) -> bytes:
    """The payload cosign signs, byte for byte: Go's `json.Marshal` of
    `payload.SimpleContainerImage` (field order critical, optional; no spaces, no newline;
    `optional` is null without annotations)."""
    doc = {
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": str(digest)},
            "type": COSIGN_SIGNATURE_TYPE,
        },
        "optional": dict(sorted(annotations.items())) if annotations else None,
    }
    # Go escapes <, > and & in strings; ensure_ascii=False plus the escapes matches it for
    # the names and digests that appear here.
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text.encode()


@dataclass(frozen=True, slots=True)
class SimpleSigning:
    docker_reference: str | None
    digest: str
    optional: dict[str, Any] | None


def parse_simple_signing(payload: bytes) -> SimpleSigning:
    """The claims of a simple-signing payload; ValueError when it is not one."""
    try:
        doc = json.loads(payload)
        critical = doc["critical"]
        digest = critical["image"]["docker-manifest-digest"]
        kind = critical["type"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"not a simple-signing payload: {exc}") from exc
    if not isinstance(digest, str) or not isinstance(kind, str):
        raise ValueError("not a simple-signing payload: wrong field types")
    if kind.lower() != COSIGN_SIGNATURE_TYPE:
        raise ValueError(f"unexpected signature type {kind!r}")
    identity = critical.get("identity") or {}
    reference = identity.get("docker-reference") if isinstance(identity, dict) else None
    optional = doc.get("optional")
    return SimpleSigning(reference if isinstance(reference, str) else None, digest,
                         optional if isinstance(optional, dict) else None)


def signature_config(diff_ids: list[Digest], created: str) -> bytes:
    """The image config cosign writes beside the payload layers (go-containerregistry's
    `mutate` over an empty image: one diff_id per layer, the payload's digest)."""
    doc = {
        "architecture": "", "created": created,
        "history": [{"created": "0001-01-01T00:00:00Z"}], "os": "",
        "rootfs": {"type": "layers", "diff_ids": [str(d) for d in diff_ids]},
        "config": {},
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def signature_layer(payload: bytes, signature_b64: str) -> dict[str, Any]:
    """The descriptor of one simple-signing payload, its signature in the annotation."""
    return {"mediaType": SIMPLE_SIGNING, "size": len(payload),
            "digest": str(Digest.of(payload)),
            "annotations": {SIGNATURE_ANNOTATION: signature_b64}}


def signature_manifest(config: bytes, layers: list[dict[str, Any]]) -> bytes:
    """The manifest cosign pushes under `sha256-<hex>.sig`: an OCI image manifest with one
    simple-signing layer per signature (a new signature is appended to the existing
    manifest, as cosign does)."""
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": IMAGE_CONFIG, "size": len(config),
                   "digest": str(Digest.of(config))},
        "layers": layers,
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def referrer_kind(artifact_type: str | None) -> str | None:
    """The signature kind of an OCI 1.1 referrer, or None when it is something else."""
    return REFERRER_KINDS.get(artifact_type or "")
