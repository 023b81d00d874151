"""cosign signatures: the exact format, verification, and real cosign-produced fixtures."""

from __future__ import annotations

import base64
import json

import pytest

from wharf.oci import signing
from wharf.oci.digest import Digest
from wharf.signatures import keys
from wharf.signatures.cosign import sign, verify_layer

# A signature made by cosign itself (key-based, no transparency log), from sigstore-rs's
# test suite (src/cosign/signature_layers.rs): public key, annotation and payload.
REAL_PUBLIC_KEY = """-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAENptdY/l3nB0yqkXLBWkZWQwo6+cu
OSWS1X9vPavpiQOoTTGC0xX57OojUadxF1cdQmrsiReWg2Wn4FneJfa8xw==
-----END PUBLIC KEY-----
"""
REAL_SIGNATURE = ("MEUCIQD6q/COgzOyW0YH1Dk+CCYSt4uAhm3FDHUwvPI55zwnlwIgE0ZK58ZOWpZw8YVmBapJhB"
                  "qCfdPekIknimuO0xH8Jh8=")
REAL_DIGEST = Digest.parse(
    "sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b")
# A keyless cosign signature from the same suite: verified here with the Fulcio-issued
# certificate's key (the certificate chain and Rekor bundle are not checked by wharf).
REAL_CERTIFICATE = """-----BEGIN CERTIFICATE-----
MIICdzCCAfygAwIBAgITA+PsaKjaEZqn7IY94b1e/jJnizAKBggqhkjOPQQDAzAq
MRUwEwYDVQQKEwxzaWdzdG9yZS5kZXYxETAPBgNVBAMTCHNpZ3N0b3JlMB4XDTIx
MTAyMDA3MjUxNloXDTIxMTAyMDA3NDUxNVowADBZMBMGByqGSM49AgEGCCqGSM49
AwEHA0IABINewQBS1f4AmNIENdL+U/HJotMSM7ZNnkTnYefxwV9TErpvnAZ0+DzL
yfAAVaeJtKjFvbOTb8F1yhJFU0XY+RijggEpMIIBJTAOBgNVHQ8BAf8EBAMCB4Aw
EwYDVR0lBAwwCgYIKwYBBQUHAwMwDAYDVR0TAQH/BAIwADAdBgNVHQ4EFgQUMf1R
MMsqNFBrWbx8mRNdxOkEEYswHwYDVR0jBBgwFoAUyMUdAEGaJCkyUSTrDa5K7UoG
0+wwgY0GCCsGAQUFBwEBBIGAMH4wfAYIKwYBBQUHMAKGcGh0dHA6Ly9wcml2YXRl
Y2EtY29udGVudC02MDNmZTdlNy0wMDAwLTIyMjctYmY3NS1mNGY1ZTgwZDI5NTQu
c3RvcmFnZS5nb29nbGVhcGlzLmNvbS9jYTM2YTFlOTYyNDJiOWZjYjE0Ni9jYS5j
cnQwIAYDVR0RAQH/BBYwFIESZmxhdmlvQGNhc3RlbGxpLm1lMAoGCCqGSM49BAMD
A2kAMGYCMQC3Y2ulPTsPmNS4czaKeje0BnOQHz5e6NBX0Bqx9Xca+t2kOi17sopc
/v/xH1xLuPoCMQDKND4WjHfKqXXOeUvZ9A96DqrEwGaqGMtnIuN4JzZYaULZrx9g
oXqqo/C9QnOHTto=
-----END CERTIFICATE-----
"""
REAL_KEYLESS_SIGNATURE = ("MEUCIGqWScz7s9aP2sGXNFKeqivw3B6kPRs56AITIHnvd5igAiEA1kzbaV2Y5yPE81EN92"
                          "NUFOl31LLJSvwsjFQ07m2XqaA=")
REAL_KEYLESS_DIGEST = Digest.parse(
    "sha256:5f481572d088dc4023afb35fced9530ced3d9b03bf7299c6f492163cb9f0452e")
# An unrelated key from the same suite.
OTHER_PUBLIC_KEY = """-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAETJP9cqpUQsn2ggmJniWGjHdlsHzD
JsB89BPhZYch0U0hKANx5TY+ncrm0s8bfJxxHoenAEFhwhuXeb4PqIrtoQ==
-----END PUBLIC KEY-----
"""
IMAGE = Digest.of(b"an image manifest")


def test_real_cosign_signature_verifies() -> None:
    payload = signing.simple_signing_payload("registry-testing.svc.lan/busybox", REAL_DIGEST)
    check = verify_layer(payload, REAL_SIGNATURE, REAL_DIGEST,
                         [keys.load_public_key(REAL_PUBLIC_KEY)])
    assert check.valid, check.reason


def test_real_keyless_signature_verifies_with_certificate_key() -> None:
    payload = signing.simple_signing_payload(
        "registry-testing.svc.lan/kubewarden/disallow-service-nodeport", REAL_KEYLESS_DIGEST)
    trusted = keys.load_public_key(REAL_CERTIFICATE)
    assert trusted.certificate is not None
    assert verify_layer(payload, REAL_KEYLESS_SIGNATURE, REAL_KEYLESS_DIGEST, [trusted]).valid


def test_real_signature_fails_with_another_key() -> None:
    payload = signing.simple_signing_payload("registry-testing.svc.lan/busybox", REAL_DIGEST)
    check = verify_layer(payload, REAL_SIGNATURE, REAL_DIGEST,
                         [keys.load_public_key(OTHER_PUBLIC_KEY)])
    assert not check.valid
    assert check.reason == "not signed by a trusted key"


def test_payload_is_byte_for_byte_cosign() -> None:
    payload = signing.simple_signing_payload("127.0.0.1:5000/acme/web", IMAGE)
    assert payload == (
        b'{"critical":{"identity":{"docker-reference":"127.0.0.1:5000/acme/web"},'
        b'"image":{"docker-manifest-digest":"' + str(IMAGE).encode() + b'"},'
        b'"type":"cosign container image signature"},"optional":null}')
    annotated = signing.simple_signing_payload("r/a", IMAGE, {"b": "2", "a": "1"})
    assert annotated.endswith(b'"optional":{"a":"1","b":"2"}}')


def test_signature_manifest_is_cosigns_layout() -> None:
    key = keys.generate()
    artifact = sign(key, "127.0.0.1:5000/acme/web", IMAGE)
    doc = json.loads(artifact.manifest)
    assert list(doc) == ["schemaVersion", "mediaType", "config", "layers"]
    assert doc["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert doc["config"] == {"mediaType": "application/vnd.oci.image.config.v1+json",
                             "size": len(artifact.config),
                             "digest": str(Digest.of(artifact.config))}
    (layer,) = doc["layers"]
    assert layer["mediaType"] == "application/vnd.dev.cosign.simplesigning.v1+json"
    assert layer["digest"] == str(Digest.of(artifact.payload))
    assert layer["size"] == len(artifact.payload)
    assert list(layer["annotations"]) == ["dev.cosignproject.cosign/signature"]
    config = json.loads(artifact.config)
    assert config["rootfs"] == {"type": "layers", "diff_ids": [layer["digest"]]}
    assert signing.signature_tag(IMAGE) == f"sha256-{IMAGE.encoded}.sig"


def test_own_signature_verifies_and_tampering_fails() -> None:
    key = keys.generate()
    trusted = [keys.load_public_key(keys.public_pem(key))]
    artifact = sign(key, "127.0.0.1:5000/acme/web", IMAGE)
    assert verify_layer(artifact.payload, artifact.signature_b64, IMAGE, trusted).valid
    tampered = artifact.payload.replace(b"acme/web", b"acme/evil")
    assert not verify_layer(tampered, artifact.signature_b64, IMAGE, trusted).valid
    other = Digest.of(b"another image")
    forged = signing.simple_signing_payload("127.0.0.1:5000/acme/web", other)
    check = verify_layer(forged, artifact.signature_b64, other, trusted)
    assert not check.valid


def test_signature_over_another_digest_fails() -> None:
    key = keys.generate()
    trusted = [keys.load_public_key(keys.public_pem(key))]
    artifact = sign(key, "127.0.0.1:5000/acme/web", Digest.of(b"another image"))
    check = verify_layer(artifact.payload, artifact.signature_b64, IMAGE, trusted)
    assert not check.valid
    assert "not " + str(IMAGE) in (check.reason or "")


def test_untrusted_key_fails() -> None:
    artifact = sign(keys.generate(), "r/acme/web", IMAGE)
    stranger = [keys.load_public_key(keys.public_pem(keys.generate()))]
    assert not verify_layer(artifact.payload, artifact.signature_b64, IMAGE, stranger).valid


@pytest.mark.parametrize("annotation", [None, "", "not base64!",
                                        base64.b64encode(b"garbage").decode()])
def test_bad_annotations_fail(annotation: str | None) -> None:
    key = keys.generate()
    artifact = sign(key, "r/acme/web", IMAGE)
    trusted = [keys.load_public_key(keys.public_pem(key))]
    assert not verify_layer(artifact.payload, annotation, IMAGE, trusted).valid


def test_not_a_payload_fails() -> None:
    key = keys.generate()
    trusted = [keys.load_public_key(keys.public_pem(key))]
    assert not verify_layer(b"{}", "MEUCIQ==", IMAGE, trusted).valid


def test_tag_scheme_parsing() -> None:
    assert signing.parse_signature_tag(f"sha256-{IMAGE.encoded}.sig") == (IMAGE, "cosign")
    assert signing.parse_signature_tag(f"sha256-{IMAGE.encoded}.att") == (IMAGE, "attestation")
    assert signing.parse_signature_tag(f"sha256-{IMAGE.encoded}.sbom") == (IMAGE, "sbom")
    assert signing.parse_signature_tag(f"sha256-{IMAGE.encoded}") is None
    assert signing.parse_signature_tag("sha256-abc.sig") is None
    assert signing.parse_signature_tag("1.0") is None
