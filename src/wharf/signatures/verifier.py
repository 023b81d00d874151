"""Finding an image's signatures in a repository and checking each against trusted keys.

Both places signatures live are searched: cosign's tag scheme (`sha256-<hex>.sig`,
`.att`, `.sbom` in the same repository) and OCI 1.1 referrers (manifests whose `subject`
is the image: cosign's referrer mode, notation). One signature's result depends only on
immutable content (its manifest digest, the image digest) and the key set, so it is
cached without expiry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509

from wharf.metadata.signature_store import ArtifactRow, SignatureStore
from wharf.oci import signing
from wharf.oci.digest import Digest, DigestError
from wharf.oci.manifest import Descriptor, ManifestError, parse_manifest
from wharf.signatures.cache import TtlCache
from wharf.signatures.cosign import verify_layer
from wharf.signatures.keys import TrustedKey
from wharf.signatures.notary import verify_jws
from wharf.storage import keys as storage_keys
from wharf.storage.driver import NotFoundError, StorageDriver

# Payloads and envelopes are a few hundred bytes; refuse to read anything large.
MAX_SIGNATURE_BLOB = 1 << 20


@dataclass(frozen=True, slots=True)
class TrustSet:
    """What a project trusts: public keys (cosign) and certificates (Notary anchors)."""

    keys: tuple[TrustedKey, ...]
    hash: str

    @property
    def certificates(self) -> list[x509.Certificate]:
        return [k.certificate for k in self.keys if k.certificate is not None]


@dataclass(frozen=True, slots=True)
class Check:
    valid: bool | None  # None: not checked (no trusted keys, or a kind not verified here)
    signer: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class SignatureInfo:
    kind: str
    digest: str
    media_type: str
    artifact_type: str | None
    source: str  # "tag" or "referrer"
    tag: str | None
    created_at: datetime
    check: Check

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "digest": self.digest, "media_type": self.media_type,
                "artifact_type": self.artifact_type, "source": self.source, "tag": self.tag,
                "created_at": self.created_at.isoformat(), "verified": self.check.valid,
                "signer": self.check.signer, "reason": self.check.reason}


def scheme_tags(digest: Digest) -> list[str]:
    return [signing.signature_tag(digest, suffix) for suffix in signing.TAG_SUFFIXES]


def _kind(row: ArtifactRow) -> str | None:
    if row.tag is not None:
        parsed = signing.parse_signature_tag(row.tag)
        if parsed is not None:
            return parsed[1]
    return signing.referrer_kind(row.artifact_type)


class SignatureVerifier:
    def __init__(self, store: SignatureStore, driver: StorageDriver,
                 cache_entries: int = 10000) -> None:
        self.store = store
        self.driver = driver
        self._checks: TtlCache[tuple[str, str, str], Check] = TtlCache(cache_entries)

    def _blob(self, descriptor: Descriptor) -> bytes | None:
        if descriptor.size > MAX_SIGNATURE_BLOB:
            return None
        try:
            data = self.driver.get(storage_keys.blob(descriptor.digest))
        except (NotFoundError, OSError):
            return None
        # The bytes are trusted only if they are the content the manifest names.
        return data if Digest.of(data, descriptor.digest.algorithm) == descriptor.digest \
            else None

    def signatures(self, repository: str, image: Digest,
                   trust: TrustSet | None) -> list[SignatureInfo]:
        """Every signature-like artefact of `image` in the repository, each checked
        against `trust` where this kind can be verified."""
        found = []
        for row in self.store.artifacts(repository, str(image), scheme_tags(image)):
            kind = _kind(row)
            if kind is None:
                continue
            check = self.check(row, kind, image, trust)
            found.append(SignatureInfo(kind, row.digest, row.media_type, row.artifact_type,
                                       "tag" if row.tag else "referrer", row.tag,
                                       row.created_at, check))
        return found

    def check(self, row: ArtifactRow, kind: str, image: Digest,
              trust: TrustSet | None) -> Check:
        if kind not in (signing.KIND_COSIGN, signing.KIND_NOTARY):
            return Check(None, reason=f"{kind} artefacts are listed, not verified")
        if trust is None or not trust.keys:
            return Check(None, reason="the project trusts no keys")
        key = (row.digest, str(image), trust.hash)
        cached = self._checks.get(key)
        if cached is None:
            cached = self._check(row, kind, image, trust)
            self._checks.put(key, cached)
        return cached

    def _check(self, row: ArtifactRow, kind: str, image: Digest, trust: TrustSet) -> Check:
        try:
            manifest = parse_manifest(row.body, row.media_type)
        except (ManifestError, DigestError) as exc:
            return Check(False, reason=f"unreadable signature manifest: {exc}")
        layers = manifest.blobs[1:]
        if kind == signing.KIND_NOTARY:
            return self._check_notary(layers, image, trust)
        reasons = []
        for layer in layers:
            if layer.media_type != signing.SIMPLE_SIGNING:
                if layer.media_type == signing.SIGSTORE_BUNDLE:
                    reasons.append("sigstore bundle signatures are not verified here")
                continue
            payload = self._blob(layer)
            if payload is None:
                reasons.append(f"payload {layer.digest} is missing or too large")
                continue
            result = verify_layer(payload, (layer.annotations or {}).get(
                signing.SIGNATURE_ANNOTATION), image, list(trust.keys))
            if result.key is not None:
                return Check(True, signer=result.key.fingerprint)
            reasons.append(result.reason or "invalid")
        return Check(False, reason="; ".join(dict.fromkeys(reasons)) or "no signature layer")

    def _check_notary(self, layers: tuple[Descriptor, ...], image: Digest,
                      trust: TrustSet) -> Check:
        certificates = trust.certificates
        if not certificates:
            return Check(None, reason="the project trusts no certificates (Notary needs one)")
        reasons = []
        for layer in layers:
            if layer.media_type != signing.JWS_ENVELOPE:
                reasons.append(f"{layer.media_type} envelopes are not verified here")
                continue
            envelope = self._blob(layer)
            if envelope is None:
                reasons.append(f"envelope {layer.digest} is missing or too large")
                continue
            result = verify_jws(envelope, image, certificates)
            if result.valid:
                return Check(True, signer=result.signer)
            reasons.append(result.reason or "invalid")
        return Check(False, reason="; ".join(dict.fromkeys(reasons)) or "no envelope")

    def signed_by_trusted(self, repository: str, image: Digest, trust: TrustSet) -> bool:
        """Whether a signature of `image` verifies with `trust`, or one of an index in
        the repository that lists it (a multi-platform image is signed at its index)."""
        if any(s.check.valid for s in self.signatures(repository, image, trust)):
            return True
        for parent in self.store.parent_indexes(repository, str(image)):
            try:
                parent_digest = Digest.parse(parent)
            except DigestError:
                continue
            if any(s.check.valid for s in self.signatures(repository, parent_digest, trust)):
                return True
        return False


def is_signature_artifact(body: bytes) -> bool:
    """Whether a manifest is itself a signature, attestation or SBOM artefact: such
    manifests are never required to be signed (cosign must be able to read them)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return False
    if not isinstance(doc, dict):
        return False
    if doc.get("subject") is not None:
        return True
    if signing.referrer_kind(doc.get("artifactType")) is not None:
        return True
    layers = doc.get("layers")
    if isinstance(layers, list):
        types = {layer.get("mediaType") for layer in layers if isinstance(layer, dict)}
        if types & {signing.SIMPLE_SIGNING, signing.DSSE_ENVELOPE, signing.JWS_ENVELOPE,
                    signing.COSE_ENVELOPE, signing.SIGSTORE_BUNDLE}:
            return True
    return False
