"""Keys: openssl's PEM forms and cosign's encrypted key files."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from wharf.signatures import keys


def _pem(key: ec.EllipticCurvePrivateKey, fmt: serialization.PrivateFormat,
         password: bytes | None = None) -> str:
    encryption = (serialization.BestAvailableEncryption(password) if password
                  else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, fmt, encryption).decode()


def test_sec1_and_pkcs8_private_keys_load() -> None:
    key = keys.generate()
    sec1 = _pem(key, serialization.PrivateFormat.TraditionalOpenSSL)
    pkcs8 = _pem(key, serialization.PrivateFormat.PKCS8)
    assert sec1.startswith("-----BEGIN EC PRIVATE KEY-----")
    assert pkcs8.startswith("-----BEGIN PRIVATE KEY-----")
    for pem in (sec1, pkcs8):
        loaded = keys.load_private_key(pem)
        assert loaded.private_numbers() == key.private_numbers()
    encrypted = _pem(key, serialization.PrivateFormat.PKCS8, b"pw")
    assert keys.needs_password(encrypted)
    assert keys.load_private_key(encrypted, b"pw").private_numbers() == key.private_numbers()


def test_cosign_key_file_round_trip() -> None:
    key = keys.generate()
    pem = keys.encrypt_cosign_key(key, b"secret", n=1024)
    assert pem.startswith("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
    body = "".join(pem.splitlines()[1:-1])
    envelope = json.loads(base64.b64decode(body))
    assert envelope["kdf"]["name"] == "scrypt"
    assert envelope["kdf"]["params"] == {"N": 1024, "r": 8, "p": 1}
    assert len(base64.b64decode(envelope["kdf"]["salt"])) == 32
    assert envelope["cipher"]["name"] == "nacl/secretbox"
    assert len(base64.b64decode(envelope["cipher"]["nonce"])) == 24
    assert keys.needs_password(pem)
    loaded = keys.load_private_key(pem, b"secret")
    assert loaded.private_numbers() == key.private_numbers()
    # cosign v1 wrote the same envelope under another PEM type.
    legacy = pem.replace("SIGSTORE", "COSIGN")
    assert keys.load_private_key(legacy, b"secret").private_numbers() == key.private_numbers()


def test_cosign_key_file_default_parameters_are_cosigns() -> None:
    pem = keys.encrypt_cosign_key(keys.generate(), b"")
    envelope = json.loads(base64.b64decode("".join(pem.splitlines()[1:-1])))
    assert envelope["kdf"]["params"] == {"N": 32768, "r": 8, "p": 1}
    keys.load_private_key(pem, b"")  # an empty password, as COSIGN_PASSWORD="" gives


def test_cosign_key_wrong_password() -> None:
    pem = keys.encrypt_cosign_key(keys.generate(), b"right", n=1024)
    with pytest.raises(keys.KeyFormatError, match="wrong password"):
        keys.load_private_key(pem, b"wrong")


def test_public_keys_and_fingerprints() -> None:
    key = keys.generate()
    pem = keys.public_pem(key)
    trusted = keys.load_public_key(pem)
    rewrapped = pem.replace("\n", "\r\n")
    assert keys.load_public_key(rewrapped).fingerprint == trusted.fingerprint
    other = keys.load_public_key(keys.public_pem(keys.generate()))
    assert keys.key_set_hash([trusted, other]) == keys.key_set_hash([other, trusted])
    assert keys.key_set_hash([trusted]) != keys.key_set_hash([trusted, other])


@pytest.mark.parametrize("text", ["", "not pem", "-----BEGIN PUBLIC KEY-----\n!!\n"
                                  "-----END PUBLIC KEY-----\n"])
def test_bad_public_keys(text: str) -> None:
    with pytest.raises(keys.KeyFormatError):
        keys.load_public_key(text)


def test_private_key_is_not_a_trusted_key() -> None:
    pem = _pem(keys.generate(), serialization.PrivateFormat.PKCS8)
    with pytest.raises(keys.KeyFormatError, match="PUBLIC KEY or CERTIFICATE"):
        keys.load_public_key(pem)


def test_only_p256_signs() -> None:
    other = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(keys.KeyFormatError, match="P-256"):
        keys.load_private_key(_pem(other, serialization.PrivateFormat.PKCS8))
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = rsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    with pytest.raises(keys.KeyFormatError):
        keys.load_private_key(pem)
