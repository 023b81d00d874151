"""cosign key-based signatures: sign and verify the simple-signing layer.

What is verified, as `cosign verify --key` does without a transparency log: the layer's
`dev.cosignproject.cosign/signature` annotation is an ECDSA (P-256/SHA-256; RSA keys with
PKCS#1 v1.5/SHA-256) signature over the exact payload bytes, by one of the trusted keys,
and the payload's `critical.image.docker-manifest-digest` is the image's digest. The
payload blob's own digest is checked against its descriptor by the caller that reads it.
Not verified: Rekor bundles, Fulcio certificates (keyless signing) and `optional` claims.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from wharf.oci.digest import Digest
from wharf.oci.signing import (
    parse_simple_signing,
    signature_config,
    signature_layer,
    signature_manifest,
    simple_signing_payload,
)
from wharf.signatures.keys import TrustedKey


@dataclass(frozen=True, slots=True)
class CosignCheck:
    """The outcome of checking one signature layer: which trusted key, or why not."""

    key: TrustedKey | None
    reason: str | None = None

    @property
    def valid(self) -> bool:
        return self.key is not None


def _verifies(key: TrustedKey, signature: bytes, payload: bytes) -> bool:
    try:
        if isinstance(key.key, ec.EllipticCurvePublicKey):
            key.key.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key.key, rsa.RSAPublicKey):
            key.key.verify(signature, payload, padding.PKCS1v15(), hashes.SHA256())
        else:  # pragma: no cover - load_public_key admits only the two
            return False
    except InvalidSignature:
        return False
    return True


def verify_layer(payload: bytes, signature_b64: str | None, image: Digest,
                 keys: list[TrustedKey]) -> CosignCheck:
    """Check one simple-signing layer of a signature manifest against `keys`."""
    if not signature_b64:
        return CosignCheck(None, "no signature annotation")
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return CosignCheck(None, "signature annotation is not base64")
    try:
        claims = parse_simple_signing(payload)
    except ValueError as exc:
        return CosignCheck(None, str(exc))
    if claims.digest != str(image):
        return CosignCheck(None, f"payload signs {claims.digest}, not {image}")
    for key in keys:
        if _verifies(key, signature, payload):
            return CosignCheck(key)
    return CosignCheck(None, "not signed by a trusted key")


@dataclass(frozen=True, slots=True)
class SignatureArtifact:
    """What to push for a cosign signature: the payload and config blobs, the manifest."""

    config: bytes
    payload: bytes
    manifest: bytes
    signature_b64: str


def sign(key: ec.EllipticCurvePrivateKey, docker_reference: str, image: Digest,
         annotations: dict[str, str] | None = None, *, created: datetime | None = None,
         existing: list[dict[str, Any]] | None = None) -> SignatureArtifact:
    """A cosign-format signature of `image` (`docker_reference`: registry host and
    repository, no tag, as cosign writes it), added to the `existing` layers of the
    image's `.sig` manifest if there is one."""
    payload = simple_signing_payload(docker_reference, image, annotations)
    signature = base64.b64encode(key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()
    layers = [*(existing or []), signature_layer(payload, signature)]
    moment = (created or datetime.now(UTC)).astimezone(UTC)
    config = signature_config([Digest.parse(layer["digest"]) for layer in layers],
                              moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return SignatureArtifact(config, payload, signature_manifest(config, layers), signature)
