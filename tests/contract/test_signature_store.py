"""The signature store on SQLite and PostgreSQL: policies, keys, artefacts, counters."""

from __future__ import annotations

import json

from wharf.metadata.signature_store import SignatureStore
from wharf.metadata.store import MetadataStore
from wharf.oci.digest import Digest
from wharf.oci.manifest import parse_manifest


def _manifest(meta: MetadataStore, repo_id: int, doc: dict[str, object],
              tag: str | None = None) -> str:
    body = json.dumps(doc).encode()
    manifest = parse_manifest(body, None)
    for blob in manifest.blobs:
        meta.link_blob(repo_id, str(blob.digest), blob.size)
    assert meta.put_manifest(repo_id, manifest, body, tag) == []
    return str(manifest.digest)


def _doc(salt: str, **extra: object) -> dict[str, object]:
    config = Digest.of(salt.encode())
    return {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": str(config), "size": len(salt)}, "layers": [], **extra}


def test_policy_keys_and_counters(meta: MetadataStore) -> None:
    store = SignatureStore(meta.engine)
    project_id = store.project_id("acme")
    assert project_id is not None
    policy = store.policy("acme")
    assert policy is not None
    assert (policy.require_signed, policy.keys) == (False, [])
    assert store.policy("nope") is None
    store.set_policy(project_id, True, [("sha256:a", "PEM-A", "key"),
                                        ("sha256:b", "PEM-B", "certificate")])
    store.set_policy(project_id, None, None)  # nothing changes
    policy = store.policy("acme")
    assert policy is not None
    assert policy.require_signed
    assert [(k.fingerprint, k.kind) for k in policy.keys] == [("sha256:a", "key"),
                                                             ("sha256:b", "certificate")]
    assert [p.project for p in store.all_policies()] == ["acme"]
    store.set_policy(project_id, False, [("sha256:c", "PEM-C", "key")])
    policy = store.policy("acme")
    assert policy is not None
    assert [k.pem for k in policy.keys] == ["PEM-C"]
    assert not policy.require_signed

    store.add_pull_counts({"acme": (2, 1), "missing": (5, 5)})
    store.add_pull_counts({"acme": (1, 0), "p": (0, 4)})
    rows = {(r.project, r.signed, r.unsigned) for r in store.pull_counts()}
    assert rows == {("acme", 3, 1), ("p", 0, 4)}
    assert [(r.signed, r.unsigned) for r in store.pull_counts("p")] == [(0, 4)]


def test_artifacts_by_tag_scheme_and_subject(meta: MetadataStore) -> None:
    store = SignatureStore(meta.engine)
    repo_id = meta.ensure_repository("acme/web", "acme")
    assert repo_id is not None
    image = _manifest(meta, repo_id, _doc("image"), "1.0")
    digest = Digest.parse(image)
    tag = f"sha256-{digest.encoded}.sig"
    tagged = _manifest(meta, repo_id, _doc("sig"), tag)
    subject = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": image,
               "size": 10}
    referrer = _manifest(meta, repo_id, _doc("ref", subject=subject,
                                             artifactType="application/vnd.cncf.notary.signature"))
    _manifest(meta, repo_id, _doc("unrelated"), "other")
    found = {(a.digest, a.tag) for a in store.artifacts("acme/web", image, [tag])}
    assert found == {(tagged, tag), (referrer, None)}
    assert store.artifacts("acme/other", image, [tag]) == []
    assert store.resolve_tag("acme/web", "1.0") == image
    assert store.has_manifest("acme/web", image)
    index = _manifest(meta, repo_id, {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": image, "size": 10}]})
    assert store.parent_indexes("acme/web", image) == [index]

    meta.imply_subject(tagged, image)
    meta.imply_subject(referrer, "sha256:" + "0" * 64)  # a real subject is never replaced
    referrers = {r.digest for r in meta.referrers(repo_id, image, None)}
    assert referrers == {tagged, referrer}
