"""The signature service on a real (SQLite) database and the memory driver: the pull
gate sees a signature pushed a moment ago, caches only what may be cached, and counts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from wharf.errors import RegistryError
from wharf.metadata.engine import make_engine, migrate
from wharf.metadata.iam_store import IamStore
from wharf.metadata.signature_store import SignatureStore
from wharf.metadata.store import MetadataStore
from wharf.oci.digest import Digest
from wharf.oci.manifest import parse_manifest
from wharf.oci.signing import signature_tag
from wharf.signatures import keys
from wharf.signatures.cosign import sign
from wharf.signatures.service import NOT_SIGNED_MESSAGE, SignatureService
from wharf.storage import keys as storage_keys
from wharf.storage.memory import MemoryDriver

REPO = "acme/web"


class World:
    def __init__(self, tmp_path: Path) -> None:
        url = f"sqlite:///{tmp_path / 'meta.db'}"
        migrate(url)
        self.engine = make_engine(url)
        IamStore(self.engine).create_project("acme")
        self.meta = MetadataStore(self.engine)
        self.driver = MemoryDriver()
        repo_id = self.meta.ensure_repository(REPO, "acme")
        assert repo_id is not None
        self.repo_id = repo_id
        self.service = SignatureService(SignatureStore(self.engine), self.driver)

    def blob(self, data: bytes) -> str:
        digest = Digest.of(data)
        self.driver.put(storage_keys.blob(digest), data)
        self.meta.link_blob(self.repo_id, str(digest), len(data))
        return str(digest)

    def manifest(self, body: bytes, tag: str | None) -> str:
        manifest = parse_manifest(body, None)
        assert self.meta.put_manifest(self.repo_id, manifest, body, tag) == []
        return str(manifest.digest)

    def image(self, salt: str) -> tuple[str, bytes]:
        config = self.blob(salt.encode())
        body = json.dumps({"schemaVersion": 2,
                           "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": config, "size": len(salt)},
                           "layers": []}).encode()
        return self.manifest(body, salt), body

    def sign(self, key: ec.EllipticCurvePrivateKey, digest: str) -> None:
        artifact = sign(key, f"registry.example.com/{REPO}", Digest.parse(digest))
        self.blob(artifact.payload)
        self.blob(artifact.config)
        self.manifest(artifact.manifest, signature_tag(Digest.parse(digest)))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    w.engine.dispose()


def test_gate_sees_new_signatures_and_counts(world: World) -> None:
    key = keys.generate()
    service = world.service
    digest, body = world.image("app")
    assert service.check_pull(REPO, digest, body) is None  # no policy yet
    service.set_policy("acme", True, [keys.public_pem(key)])
    error = service.check_pull(REPO, digest, body)
    assert error is not None
    assert (error.code.code, error.code.status, error.message) == ("DENIED", 403,
                                                                   NOT_SIGNED_MESSAGE)
    world.sign(keys.generate(), digest)  # an untrusted key
    assert service.check_pull(REPO, digest, body) is not None
    world.sign(key, digest)
    assert service.check_pull(REPO, digest, body) is None  # seen at once, not cached "no"

    other, other_body = world.image("other")
    with pytest.raises(RegistryError, match=NOT_SIGNED_MESSAGE):
        service.serve_pull(REPO, other, other_body, lambda: False)
    service.serve_pull(REPO, other, other_body, lambda: True)  # a pusher, exempt
    service.serve_pull(REPO, digest, body, lambda: False)
    service.serve_pull(REPO, digest, body, lambda: False)
    assert service.pull_stats("acme")["signed_pulls_pct"] == pytest.approx(66.67)
    assert service.flush_counts() == 3
    assert service.flush_counts() == 0
    stats = service.pull_stats()
    assert (stats["signed"], stats["unsigned"]) == (2, 1)


def test_signature_manifests_are_always_served(world: World) -> None:
    key = keys.generate()
    digest, _ = world.image("app")
    world.service.set_policy("acme", True, [keys.public_pem(key)])
    world.sign(key, digest)
    tag = signature_tag(Digest.parse(digest))
    sig_digest = world.meta.resolve_tag(world.repo_id, tag)
    assert sig_digest is not None
    stored = world.meta.get_manifest(world.repo_id, sig_digest)
    assert stored is not None
    assert world.service.check_pull(REPO, sig_digest, stored.body) is None


def test_listing_reports_each_signature(world: World) -> None:
    key, stranger = keys.generate(), keys.generate()
    digest, _ = world.image("app")
    world.service.set_policy("acme", None, [keys.public_pem(key)])
    world.sign(stranger, digest)
    doc = world.service.signatures(REPO, "app")
    assert doc["signed_by_trusted_key"] is False
    assert [s["verified"] for s in doc["signatures"]] == [False]
    world.sign(key, digest)
    doc = world.service.signatures(REPO, digest)
    assert doc["signed_by_trusted_key"] is True
    assert doc["signatures"][0]["signer"] == keys.load_public_key(
        keys.public_pem(key)).fingerprint


def test_policy_needs_a_key(world: World) -> None:
    with pytest.raises(RegistryError, match="at least one trusted key"):
        world.service.set_policy("acme", True, None)
    with pytest.raises(RegistryError, match="not found"):
        world.service.set_policy("nope", False, None)
