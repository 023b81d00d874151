"""The metadata store contract, run against every database."""

from __future__ import annotations

import json

from wharf.metadata.store import MetadataStore, StoredManifest, TagPage
from wharf.oci import mediatypes as mt
from wharf.oci.digest import Digest
from wharf.oci.manifest import parse_manifest


def _manifest(config: bytes, layers: list[bytes], subject: str | None = None) -> bytes:
    doc: dict[str, object] = {
        "schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": str(Digest.of(config)), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": str(Digest.of(x)), "size": len(x)} for x in layers],
    }
    if subject:
        doc["subject"] = {"mediaType": mt.OCI_MANIFEST, "digest": subject, "size": 1}
        doc["artifactType"] = "application/example"
    return json.dumps(doc).encode()


def test_repositories_are_created_once(meta: MetadataStore) -> None:
    a = meta.ensure_repository("acme/web", "acme")
    assert meta.ensure_repository("acme/web", "acme") == a
    assert meta.repository_id("acme/web") == a
    assert meta.repository_id("acme/none") is None
    meta.ensure_repository("acme/api", "acme")
    assert meta.catalog(10, None) == ["acme/api", "acme/web"]
    assert meta.catalog(10, "acme/api") == ["acme/web"]


def test_blob_links_are_per_repository(meta: MetadataStore) -> None:
    a = meta.ensure_repository("p/a", "p")
    b = meta.ensure_repository("p/b", "p")
    meta.link_blob(a, "sha256:" + "1" * 64, 10)
    assert meta.blob_size_in_repository(a, "sha256:" + "1" * 64) == 10
    assert meta.blob_size_in_repository(b, "sha256:" + "1" * 64) is None
    assert meta.link_existing_blob(b, "sha256:" + "1" * 64) == 10
    assert meta.link_existing_blob(b, "sha256:" + "2" * 64) is None
    assert meta.unlink_blob(a, "sha256:" + "1" * 64)
    assert not meta.unlink_blob(a, "sha256:" + "1" * 64)
    assert meta.blob_size("sha256:" + "1" * 64) == 10


def test_manifest_requires_its_blobs(meta: MetadataStore) -> None:
    repo = meta.ensure_repository("p/img", "p")
    body = _manifest(b"{}", [b"layer"])
    manifest = parse_manifest(body, mt.OCI_MANIFEST)
    missing = meta.put_manifest(repo, manifest, body, "v1")
    assert missing == sorted([str(Digest.of(b"{}")), str(Digest.of(b"layer"))])
    assert meta.resolve_tag(repo, "v1") is None
    meta.link_blob(repo, str(Digest.of(b"{}")), 2)
    meta.link_blob(repo, str(Digest.of(b"layer")), 5)
    assert meta.put_manifest(repo, manifest, body, "v1") == []
    assert meta.resolve_tag(repo, "v1") == str(manifest.digest)
    stored = meta.get_manifest(repo, str(manifest.digest))
    assert stored is not None
    assert stored.body == body
    assert stored.media_type == mt.OCI_MANIFEST


def test_pull_lookups_by_repository_name(meta: MetadataStore) -> None:
    repo = meta.ensure_repository("p/pull", "p")
    meta.ensure_repository("p/other", "p")
    config = str(Digest.of(b"{}"))
    meta.link_blob(repo, config, 2)
    body = _manifest(b"{}", [])
    manifest = parse_manifest(body, mt.OCI_MANIFEST)
    meta.put_manifest(repo, manifest, body, "v1")
    digest = str(manifest.digest)
    expected = StoredManifest(digest, mt.OCI_MANIFEST, body)
    assert meta.manifest_by_name("p/pull", tag="v1") == expected
    assert meta.manifest_by_name("p/pull", digest=digest) == expected
    assert meta.manifest_by_name("p/pull", tag="v2") is None
    assert meta.manifest_by_name("p/other", tag="v1") is None
    assert meta.manifest_by_name("p/other", digest=digest) is None
    assert meta.manifest_by_name("p/none", digest=digest) is None
    assert meta.blob_size_by_name("p/pull", config) == 2
    assert meta.blob_size_by_name("p/other", config) is None
    assert meta.blob_size_by_name("p/pull", "sha256:" + "3" * 64) is None


def _tags(meta: MetadataStore, name: str, n: int, last: str | None) -> list[str]:
    page = meta.tag_page(name, n, last)
    assert page is not None
    return list(json.loads(page.names_json))


def test_tags_move_list_and_delete(meta: MetadataStore) -> None:
    repo = meta.ensure_repository("p/t", "p")
    meta.link_blob(repo, str(Digest.of(b"{}")), 2)
    bodies = [_manifest(b"{}", []) , _manifest(b"{}", [])[:-1] + b" }"]
    digests = []
    for body in bodies:
        m = parse_manifest(body, mt.OCI_MANIFEST)
        assert meta.put_manifest(repo, m, body, "latest") == []
        digests.append(str(m.digest))
    assert meta.resolve_tag(repo, "latest") == digests[1]
    for tag in ("b", "a", "c"):
        m = parse_manifest(bodies[0], mt.OCI_MANIFEST)
        meta.put_manifest(repo, m, bodies[0], tag)
    assert _tags(meta, "p/t", 2, None) == ["a", "b"]
    assert _tags(meta, "p/t", 10, "b") == ["c", "latest"]
    assert meta.delete_tag(repo, "a")
    assert not meta.delete_tag(repo, "a")
    assert meta.delete_manifest(repo, digests[0])
    assert _tags(meta, "p/t", 10, None) == ["latest"]
    assert meta.get_manifest(repo, digests[0]) is None


def test_referrers_by_subject_and_artifact_type(meta: MetadataStore) -> None:
    repo = meta.ensure_repository("p/r", "p")
    meta.link_blob(repo, str(Digest.of(b"{}")), 2)
    subject = "sha256:" + "a" * 64
    body = _manifest(b"{}", [], subject=subject)
    m = parse_manifest(body, mt.OCI_MANIFEST)
    assert meta.put_manifest(repo, m, body, None) == []
    rows = meta.referrers(repo, subject, None)
    assert [r.digest for r in rows] == [str(m.digest)]
    assert rows[0].artifact_type == "application/example"
    assert meta.referrers(repo, subject, "application/other") == []
    assert len(meta.referrers(repo, subject, "application/example")) == 1


def test_repository_ids(meta: MetadataStore) -> None:
    ids = {meta.ensure_repository("p/a", "p"), meta.ensure_repository("p/b", "p")}
    assert set(meta.repository_ids("p")) == ids
    assert meta.repository_ids("nope") == []


def test_tag_pages_are_ordered_json_with_the_next_marker(meta: MetadataStore) -> None:
    repo = meta.ensure_repository("p/pages", "p")
    meta.link_blob(repo, str(Digest.of(b"{}")), 2)
    body = _manifest(b"{}", [])
    manifest = parse_manifest(body, mt.OCI_MANIFEST)
    tags = ["v10", "latest", "v2", "a-b", "v1", "A", "v1.0", "z_"]
    for tag in tags:  # not in order: the page is in the store's order, not the insert's
        meta.put_manifest(repo, manifest, body, tag)
    everything = meta.tag_page("p/pages", 1000, None)
    assert everything is not None
    assert json.loads(everything.names_json) == sorted(tags)
    assert everything.next_last is None
    walked, last = [], None
    while True:
        page = meta.tag_page("p/pages", 3, last)
        assert page is not None
        walked += json.loads(page.names_json)
        if page.next_last is None:
            break
        assert page.next_last == walked[-1]
        last = page.next_last
    assert walked == sorted(tags)
    # A full page with nothing after it has no next marker.
    assert meta.tag_page("p/pages", len(tags), None) == everything
    assert meta.tag_page("p/pages", 5, "z_") == TagPage("[]", None)
    assert meta.tag_page("p/pages", 0, None) == TagPage("[]", None)
    meta.ensure_repository("p/untagged", "p")
    assert meta.tag_page("p/untagged", 5, None) == TagPage("[]", None)
    assert meta.tag_page("p/missing", 5, None) is None
