"""Notary v2 (notation) JWS signature envelopes, checked against trusted certificates.

Verified: the envelope is a flattened JWS JSON (`application/jose+json`) whose protected
header has `cty` `application/vnd.cncf.notary.payload.v1+json`, a supported `alg`
(PS256/384/512, ES256/384/512) and only understood `crit` entries; the `x5c` chain is
leaf-first and each certificate is signed by the next; the chain ends in, or is issued
by, a certificate in the project's trust store; the leaf's key verifies the JWS signature
over `protected.payload`; every certificate was valid at the header's signing time; the
optional `io.cncf.notary.expiry` has not passed; the payload's `targetArtifact.digest` is
the image's digest.
Not verified: COSE envelopes, RFC 3161 timestamp countersignatures, revocation (OCSP/CRL),
key-usage/EKU extensions, and notation trust-policy scopes and trusted identities.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from wharf.oci.digest import Digest
from wharf.oci.signing import NOTARY_PAYLOAD

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
_KNOWN_CRIT = {"io.cncf.notary.signingScheme", "io.cncf.notary.expiry",
               "io.cncf.notary.authenticSigningTime", "io.cncf.notary.verificationPlugin",
               "io.cncf.notary.verificationPluginMinVersion"}


class NotaryError(ValueError):
    """The envelope does not verify; the message says why."""


@dataclass(frozen=True, slots=True)
class NotaryCheck:
    valid: bool
    reason: str | None = None
    signer: str | None = None


def _b64url(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise NotaryError("invalid base64url") from exc


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise NotaryError(f"invalid time {value!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _verify_signature(cert: x509.Certificate, alg: str, signature: bytes,
                      data: bytes) -> None:
    key = cert.public_key()
    family, bits = alg[:2], alg[2:]
    algorithm = _HASHES.get(bits)
    if algorithm is None:
        raise NotaryError(f"unsupported alg {alg!r}")
    try:
        if family == "PS" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PSS(mgf=padding.MGF1(algorithm()),
                                                    salt_length=algorithm().digest_size),
                       algorithm())
        elif family == "ES" and isinstance(key, ec.EllipticCurvePublicKey):
            # JWS carries ECDSA as raw r||s (RFC 7518 3.4), not DER.
            half = len(signature) // 2
            der = encode_dss_signature(int.from_bytes(signature[:half], "big"),
                                       int.from_bytes(signature[half:], "big"))
            key.verify(der, data, ec.ECDSA(algorithm()))
        else:
            raise NotaryError(f"alg {alg} does not match the signing certificate's key")
    except InvalidSignature as exc:
        raise NotaryError("signature does not verify") from exc


def _check_chain(chain: list[x509.Certificate], trusted: list[x509.Certificate],
                 at: datetime) -> None:
    for cert in chain:
        if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
            raise NotaryError(f"certificate {cert.subject.rfc4514_string()} was not valid "
                              "at signing time")
    for child, parent in itertools.pairwise(chain):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise NotaryError("x5c chain is broken") from exc
    fingerprints = {t.fingerprint(hashes.SHA256()) for t in trusted}
    if any(c.fingerprint(hashes.SHA256()) in fingerprints for c in chain):
        return
    last = chain[-1]
    for anchor in trusted:
        try:
            last.verify_directly_issued_by(anchor)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return
    raise NotaryError("certificate chain does not lead to a trusted certificate")


def verify_jws(envelope: bytes, image: Digest, trusted: list[x509.Certificate],
               now: datetime | None = None) -> NotaryCheck:
    """Check a notation JWS envelope for `image` against trust-store certificates."""
    try:
        return _verify(envelope, image, trusted, now or datetime.now(UTC))
    except NotaryError as exc:
        return NotaryCheck(False, str(exc))


def _verify(envelope: bytes, image: Digest, trusted: list[x509.Certificate],
            now: datetime) -> NotaryCheck:
    if not trusted:
        raise NotaryError("no trusted certificates")
    try:
        doc = json.loads(envelope)
        protected_b64, payload_b64 = doc["protected"], doc["payload"]
        signature = _b64url(doc["signature"])
        x5c = doc["header"]["x5c"]
        header = json.loads(_b64url(protected_b64))
        payload = json.loads(_b64url(payload_b64))
    except (ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, NotaryError):
            raise
        raise NotaryError(f"malformed JWS envelope: {exc}") from exc
    if not isinstance(header, dict) or header.get("cty") != NOTARY_PAYLOAD:
        raise NotaryError("protected header cty is not the Notary payload type")
    unknown = set(header.get("crit") or []) - _KNOWN_CRIT
    if unknown:
        raise NotaryError(f"unsupported critical headers {sorted(unknown)}")
    if "io.cncf.notary.verificationPlugin" in header:
        raise NotaryError("signatures that need a verification plugin are not supported")
    try:
        chain = [x509.load_der_x509_certificate(base64.b64decode(c)) for c in x5c]
    except (ValueError, TypeError) as exc:
        raise NotaryError(f"invalid x5c certificate: {exc}") from exc
    if not chain:
        raise NotaryError("x5c is empty")
    signed_at = (_time(header.get("io.cncf.notary.signingTime"))
                 or _time(header.get("io.cncf.notary.authenticSigningTime")) or now)
    expiry = _time(header.get("io.cncf.notary.expiry"))
    if expiry is not None and expiry < now:
        raise NotaryError("signature has expired")
    _check_chain(chain, trusted, signed_at)
    _verify_signature(chain[0], str(header.get("alg")), signature,
                      f"{protected_b64}.{payload_b64}".encode())
    target = payload.get("targetArtifact") if isinstance(payload, dict) else None
    if not isinstance(target, dict) or target.get("digest") != str(image):
        raise NotaryError(f"payload does not sign {image}")
    return NotaryCheck(True, None, chain[0].subject.rfc4514_string())
