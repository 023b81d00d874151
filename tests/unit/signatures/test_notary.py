"""Notary v2 JWS envelopes against trust-store certificates."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.notary import jws_envelope, make_pki
from wharf.oci.digest import Digest
from wharf.signatures.notary import verify_jws

IMAGE = Digest.of(b"an image manifest")


@pytest.mark.parametrize("leaf_rsa", [False, True], ids=["ES256", "PS256"])
def test_envelope_verifies_against_trusted_ca(leaf_rsa: bool) -> None:
    pki = make_pki(leaf_rsa)
    check = verify_jws(jws_envelope(pki, IMAGE), IMAGE, [pki.ca])
    assert check.valid, check.reason
    assert check.signer == "CN=signer"


def test_trusting_the_leaf_itself_works() -> None:
    pki = make_pki()
    assert verify_jws(jws_envelope(pki, IMAGE), IMAGE, [pki.leaf]).valid


def test_untrusted_ca_fails() -> None:
    pki, other = make_pki(), make_pki()
    check = verify_jws(jws_envelope(pki, IMAGE), IMAGE, [other.ca])
    assert not check.valid
    assert "trusted certificate" in (check.reason or "")


def test_other_digest_fails() -> None:
    pki = make_pki()
    check = verify_jws(jws_envelope(pki, Digest.of(b"other")), IMAGE, [pki.ca])
    assert not check.valid
    assert "does not sign" in (check.reason or "")


def test_tampered_payload_fails() -> None:
    pki = make_pki()
    doc = json.loads(jws_envelope(pki, IMAGE))
    other = jws_envelope(pki, Digest.of(b"other"))
    doc["payload"] = json.loads(other)["payload"]
    check = verify_jws(json.dumps(doc).encode(), Digest.of(b"other"), [pki.ca])
    assert not check.valid
    assert check.reason == "signature does not verify"


def test_expired_signature_fails() -> None:
    pki = make_pki()
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    envelope = jws_envelope(pki, IMAGE, **{"io.cncf.notary.expiry": past})
    assert verify_jws(envelope, IMAGE, [pki.ca]).reason == "signature has expired"


def test_unknown_critical_header_fails() -> None:
    pki = make_pki()
    envelope = jws_envelope(pki, IMAGE, crit=["io.cncf.notary.signingScheme", "x-new"])
    assert not verify_jws(envelope, IMAGE, [pki.ca]).valid


@pytest.mark.parametrize("envelope", [b"", b"{}", b"[]", b'{"payload": 1}'])
def test_malformed_envelopes_fail(envelope: bytes) -> None:
    pki = make_pki()
    assert not verify_jws(envelope, IMAGE, [pki.ca]).valid
