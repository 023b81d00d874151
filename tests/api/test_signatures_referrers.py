"""Signatures stored as OCI 1.1 referrers: cosign's referrer mode and Notary v2 (JWS),
found, verified against the project's keys and certificates, and honoured on pull."""

from __future__ import annotations

import base64
import uuid

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.notary import jws_envelope, make_pki
from tests.support.oci import (
    OCI_MANIFEST,
    descriptor,
    manifest_json,
    push_blob,
    put_manifest,
    random_config,
)
from tests.support.server import WharfServer
from tests.support.signing import new_project, puller
from wharf.oci import signing
from wharf.oci.digest import Digest
from wharf.signatures import keys

EMPTY = b"{}"
EMPTY_TYPE = "application/vnd.oci.empty.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
ACCEPT = {"Accept": OCI_MANIFEST}


def _image(client: httpx.Client, repo: str, tag: str) -> tuple[str, bytes]:
    config = random_config()
    layer = uuid.uuid4().bytes * 64
    push_blob(client, repo, config)
    push_blob(client, repo, layer)
    body = manifest_json(descriptor(CONFIG_TYPE, config),
                         [descriptor("application/vnd.oci.image.layer.v1.tar", layer)])
    assert put_manifest(client, repo, tag, body).status_code == 201
    return str(Digest.of(body)), body


def _referrer(client: httpx.Client, repo: str, subject: bytes, artifact_type: str,
              layer: dict[str, object], blob: bytes) -> str:
    push_blob(client, repo, EMPTY)
    push_blob(client, repo, blob)
    body = manifest_json(descriptor(EMPTY_TYPE, EMPTY), [layer],
                         subject=descriptor(OCI_MANIFEST, subject), artifact_type=artifact_type)
    digest = str(Digest.of(body))
    resp = put_manifest(client, repo, digest, body)
    assert resp.status_code == 201, resp.text
    return digest


def test_cosign_and_notary_referrers(server: WharfServer, client: httpx.Client) -> None:
    project = new_project(server)
    repo = f"{project}/app"
    cosign_key = keys.generate()
    pki = make_pki()
    resp = client.put(f"/api/v1/projects/{project}/policy", json={
        "require_signed": True, "trusted_keys": [keys.public_pem(cosign_key), pki.ca_pem]})
    assert resp.status_code == 200, resp.text
    kinds = {k["kind"] for k in resp.json()["signatures"]["trusted_keys"]}
    assert kinds == {"key", "certificate"}
    creds = tuple(puller(client, project).split(":", 1))

    # Notary alone satisfies the policy: the CA is in the project's trust store.
    notary_digest, notary_body = _image(client, repo, "notary")
    envelope = jws_envelope(pki, Digest.parse(notary_digest), len(notary_body))
    _referrer(client, repo, notary_body, signing.NOTARY_SIGNATURE,
              descriptor(signing.JWS_ENVELOPE, envelope), envelope)
    url = f"{server.url}/v2/{repo}/manifests/notary"
    assert httpx.get(url, headers=ACCEPT, auth=creds).status_code == 200  # type: ignore[arg-type]

    # cosign in OCI 1.1 referrer mode.
    cosign_digest, cosign_body = _image(client, repo, "cosign")
    payload = signing.simple_signing_payload(f"{server.host}/{repo}",
                                             Digest.parse(cosign_digest))
    signature = base64.b64encode(cosign_key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()
    _referrer(client, repo, cosign_body, signing.COSIGN_ARTIFACT_SIG,
              signing.signature_layer(payload, signature), payload)
    url = f"{server.url}/v2/{repo}/manifests/cosign"
    assert httpx.get(url, headers=ACCEPT, auth=creds).status_code == 200  # type: ignore[arg-type]

    doc = client.get(f"/api/v1/repositories/{repo}/signatures/cosign").json()
    assert doc["signed_by_trusted_key"] is True
    (found,) = doc["signatures"]
    assert (found["kind"], found["source"], found["verified"]) == ("cosign", "referrer", True)
    assert found["signer"] == keys.load_public_key(keys.public_pem(cosign_key)).fingerprint
    doc = client.get(f"/api/v1/repositories/{repo}/signatures/notary").json()
    (found,) = doc["signatures"]
    assert (found["kind"], found["verified"], found["signer"]) == ("notary", True, "CN=signer")

    # A Notary signature from another CA, and one over another digest, do not count.
    other_digest, other_body = _image(client, repo, "other")
    stranger = make_pki()
    envelope = jws_envelope(stranger, Digest.parse(other_digest))
    _referrer(client, repo, other_body, signing.NOTARY_SIGNATURE,
              descriptor(signing.JWS_ENVELOPE, envelope), envelope)
    wrong = jws_envelope(pki, Digest.parse(notary_digest))
    _referrer(client, repo, other_body, signing.NOTARY_SIGNATURE,
              descriptor(signing.JWS_ENVELOPE, wrong), wrong)
    url = f"{server.url}/v2/{repo}/manifests/other"
    refused = httpx.get(url, headers=ACCEPT, auth=creds)  # type: ignore[arg-type]
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["message"] == "image is not signed by trusted key"
    reasons = {s["reason"] for s in
               client.get(f"/api/v1/repositories/{repo}/signatures/other").json()["signatures"]}
    assert any("trusted certificate" in r for r in reasons)
    assert any("does not sign" in r for r in reasons)
