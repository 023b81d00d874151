"""Signing keys: PEM as openssl writes them, and cosign's encrypted key files.

Accepted private keys: SEC1 (`EC PRIVATE KEY`), PKCS#8 (`PRIVATE KEY`, or `ENCRYPTED
PRIVATE KEY` with a password), and cosign's `ENCRYPTED SIGSTORE PRIVATE KEY` /
`ENCRYPTED COSIGN PRIVATE KEY`: a JSON envelope (go-securesystemslib `encrypted`) holding
the PKCS#8 DER sealed with NaCl secretbox under a scrypt-derived key. Public keys:
SubjectPublicKeyInfo (`PUBLIC KEY`) or an X.509 certificate, whose key is used.
Only ECDSA P-256 is accepted for signing: it is what cosign generates and what the
simple-signing verification here implements.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

SIGSTORE_PEM = "ENCRYPTED SIGSTORE PRIVATE KEY"
COSIGN_PEM = "ENCRYPTED COSIGN PRIVATE KEY"
# go-securesystemslib's defaults, which cosign uses.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 32768, 8, 1
_SALT_BYTES, _NONCE_BYTES, _KEY_BYTES = 32, 24, 32

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


class KeyFormatError(ValueError):
    """A key that cannot be read or is of an unsupported kind; the message says why."""


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """A public key a project trusts, with the PEM text it was given as."""

    pem: str
    key: PublicKey
    # sha256 of the DER SubjectPublicKeyInfo: stable however the PEM was wrapped.
    fingerprint: str
    certificate: x509.Certificate | None = None


def _pem_type(text: str) -> str:
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("-----BEGIN ") and line.endswith("-----"):
            return line[len("-----BEGIN "):-5]
    raise KeyFormatError("not a PEM document")


def _pem_body(text: str, kind: str) -> bytes:
    begin, end = f"-----BEGIN {kind}-----", f"-----END {kind}-----"
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < 0:
        raise KeyFormatError(f"no {kind} block")
    try:
        return base64.b64decode("".join(text[start + len(begin):stop].split()), validate=True)
    except ValueError as exc:
        raise KeyFormatError(f"{kind}: invalid base64") from exc


def fingerprint(key: PublicKey) -> str:
    der = key.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


def load_public_key(pem: str) -> TrustedKey:
    """A trusted key from SPKI PEM or a PEM certificate (ECDSA or RSA)."""
    kind = _pem_type(pem)
    certificate = None
    key: object
    try:
        if kind == "CERTIFICATE":
            certificate = x509.load_pem_x509_certificate(pem.encode())
            key = certificate.public_key()
        elif kind == "PUBLIC KEY":
            key = serialization.load_pem_public_key(pem.encode())
        else:
            raise KeyFormatError(f"expected a PUBLIC KEY or CERTIFICATE, got {kind}")
    except (ValueError, UnsupportedAlgorithm) as exc:
        if isinstance(exc, KeyFormatError):
            raise
        raise KeyFormatError(f"invalid {kind}: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise KeyFormatError("only ECDSA and RSA public keys are supported")
    return TrustedKey(pem.strip() + "\n", key, fingerprint(key), certificate)


def key_set_hash(keys: list[TrustedKey]) -> str:
    """Identifies a set of keys independent of order and PEM wrapping."""
    return hashlib.sha256("\n".join(sorted(k.fingerprint for k in keys)).encode()).hexdigest()


def _require_p256(key: object) -> ec.EllipticCurvePrivateKey:
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise KeyFormatError("only ECDSA P-256 private keys are supported for signing")
    return key


def _secretbox() -> type:
    try:
        from nacl.secret import SecretBox
    except ImportError as exc:  # declared in pyproject; absent only in odd installs
        raise KeyFormatError("cosign key files need PyNaCl (pip install pynacl)") from exc
    return SecretBox


def _derive(password: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=_KEY_BYTES, n=n, r=r, p=p).derive(password)


def decrypt_cosign_key(pem: str, password: bytes) -> ec.EllipticCurvePrivateKey:
    kind = _pem_type(pem)
    try:
        envelope = json.loads(_pem_body(pem, kind))
        kdf, cipher = envelope["kdf"], envelope["cipher"]
        if kdf["name"] != "scrypt" or cipher["name"] != "nacl/secretbox":
            raise KeyFormatError(f"unsupported key encryption {kdf['name']}/{cipher['name']}")
        params = kdf["params"]
        salt = base64.b64decode(kdf["salt"])
        nonce = base64.b64decode(cipher["nonce"])
        ciphertext = base64.b64decode(envelope["ciphertext"])
        secret = _derive(password, salt, int(params["N"]), int(params["r"]), int(params["p"]))
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, KeyFormatError):
            raise
        raise KeyFormatError(f"malformed {kind}: {exc}") from exc
    from nacl.exceptions import CryptoError

    try:
        der = _secretbox()(secret).decrypt(ciphertext, nonce)
    except CryptoError as exc:
        raise KeyFormatError("wrong password for the cosign key") from exc
    return _require_p256(serialization.load_der_private_key(der, None))


def encrypt_cosign_key(key: ec.EllipticCurvePrivateKey, password: bytes,
                       *, n: int = SCRYPT_N) -> str:
    """`cosign generate-key-pair`'s private key file (ENCRYPTED SIGSTORE PRIVATE KEY)."""
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    salt, nonce = os.urandom(_SALT_BYTES), os.urandom(_NONCE_BYTES)
    secret = _derive(password, salt, n, SCRYPT_R, SCRYPT_P)
    sealed = _secretbox()(secret).encrypt(der, nonce).ciphertext
    b64 = base64.b64encode
    envelope = {
        "kdf": {"name": "scrypt", "params": {"N": n, "r": SCRYPT_R, "p": SCRYPT_P},
                "salt": b64(salt).decode()},
        "cipher": {"name": "nacl/secretbox", "nonce": b64(nonce).decode()},
        "ciphertext": b64(sealed).decode(),
    }
    body = b64(json.dumps(envelope, separators=(",", ":")).encode()).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {SIGSTORE_PEM}-----", *lines,
                      f"-----END {SIGSTORE_PEM}-----", ""])


def load_private_key(pem: str, password: bytes | None = None) -> ec.EllipticCurvePrivateKey:
    """A signing key from SEC1, PKCS#8 (optionally encrypted) or a cosign key file."""
    kind = _pem_type(pem)
    if kind in (SIGSTORE_PEM, COSIGN_PEM):
        return decrypt_cosign_key(pem, password or b"")
    if kind not in ("EC PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY"):
        raise KeyFormatError(f"expected a private key, got {kind}")
    try:
        key = serialization.load_pem_private_key(
            pem.encode(), password if kind == "ENCRYPTED PRIVATE KEY" else None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyFormatError(f"invalid {kind}: {exc}") from exc
    return _require_p256(key)


def needs_password(pem: str) -> bool:
    return _pem_type(pem) in (SIGSTORE_PEM, COSIGN_PEM, "ENCRYPTED PRIVATE KEY")


def generate() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_pem(key: ec.EllipticCurvePrivateKey | PublicKey) -> str:
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM,
                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
