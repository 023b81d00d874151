"""Notation-style JWS signature envelopes and test certificates (a CA and a leaf)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from wharf.oci.digest import Digest


@dataclass
class Pki:
    ca_key: ec.EllipticCurvePrivateKey
    ca: x509.Certificate
    leaf_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    leaf: x509.Certificate

    @property
    def ca_pem(self) -> str:
        return self.ca.public_bytes(serialization.Encoding.PEM).decode()


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_pki(leaf_rsa: bool = False) -> Pki:
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("test CA")).issuer_name(_name("test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    leaf_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048) if leaf_rsa
        else ec.generate_private_key(ec.SECP256R1()))
    leaf = (x509.CertificateBuilder().subject_name(_name("signer")).issuer_name(ca.subject)
            .public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
            .sign(ca_key, hashes.SHA256()))
    return Pki(ca_key, ca, leaf_key, leaf)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jws_envelope(pki: Pki, subject: Digest, size: int = 100,
                 media_type: str = "application/vnd.oci.image.manifest.v1+json",
                 **header_extra: Any) -> bytes:
    """A notation JWS envelope signing `subject`, by the leaf, with the chain in x5c."""
    rsa_leaf = isinstance(pki.leaf_key, rsa.RSAPrivateKey)
    protected = {"alg": "PS256" if rsa_leaf else "ES256",
                 "crit": ["io.cncf.notary.signingScheme"],
                 "cty": "application/vnd.cncf.notary.payload.v1+json",
                 "io.cncf.notary.signingScheme": "notary.x509",
                 "io.cncf.notary.signingTime": datetime.now(UTC).isoformat(), **header_extra}
    payload = {"targetArtifact": {"mediaType": media_type, "digest": str(subject),
                                  "size": size}}
    protected_b64 = _b64url(json.dumps(protected).encode())
    payload_b64 = _b64url(json.dumps(payload).encode())
    data = f"{protected_b64}.{payload_b64}".encode()
    if isinstance(pki.leaf_key, rsa.RSAPrivateKey):
        signature = pki.leaf_key.sign(data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                                        salt_length=32), hashes.SHA256())
    else:
        r, s = decode_dss_signature(pki.leaf_key.sign(data, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    x5c = [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()
           for c in (pki.leaf, pki.ca)]
    return json.dumps({"payload": payload_b64, "protected": protected_b64,
                       "header": {"x5c": x5c, "io.cncf.notary.signingAgent": "test"},
                       "signature": _b64url(signature)}).encode()
