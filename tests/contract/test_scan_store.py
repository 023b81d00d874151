"""The scanning store's queries, on SQLite and PostgreSQL alike (fixtures in conftest)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from wharf.metadata.scan_store import ScanStore
from wharf.metadata.store import MetadataStore
from wharf.oci.manifest import parse_manifest
from wharf.scanning.vulndb import VulnDatabase

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "osv"


def _store(meta: MetadataStore) -> ScanStore:
    return ScanStore(meta.engine)


def test_layers_reports_and_advisories(meta: MetadataStore) -> None:
    store = _store(meta)
    inventory = {"status": "ok", "reason": None, "packages": [{"kind": "python",
                                                               "name": "requests",
                                                               "version": "2.19.0",
                                                               "origin": "x/METADATA"}]}
    store.put_layer("sha256:" + "a" * 64, inventory)
    store.put_layer("sha256:" + "a" * 64, {**inventory, "packages": []})  # upsert
    assert store.layers(["sha256:" + "a" * 64, "sha256:" + "b" * 64]) == {
        "sha256:" + "a" * 64: {**inventory, "packages": []}}
    assert store.indexed_layers(["sha256:" + "a" * 64, "sha256:" + "b" * 64]) == {
        "sha256:" + "a" * 64}

    before = store.vulndb_generation()
    summary = VulnDatabase(store).import_path(FIXTURES, "fixtures")
    assert summary.imported == 6
    assert store.vulndb_generation() != before
    rows = store.affected_for({("PyPI", "requests"), ("Debian:12", "glibc"), ("PyPI", "glibc")})
    assert {(r.ecosystem, r.name, r.advisory.id) for r in rows} == {
        ("PyPI", "requests", "GHSA-x84v-xcm2-53pg"), ("Debian:12", "glibc", "DSA-5514-1"),
        ("Debian:12", "glibc", "DEBIAN-CVE-2010-4756")}
    assert [s.advisories for s in store.sources()] == [6]

    store.put_report("sha256:" + "c" * 64, "ok", None, {"findings": []}, 0)
    assert store.report("sha256:" + "c" * 64) == {"findings": []}
    assert "sha256:" + "c" * 64 in store.reported_digests()


def test_policies_allowlist_and_verdicts(meta: MetadataStore) -> None:
    store = _store(meta)
    acme = store.project_id("acme")
    assert acme is not None
    assert store.policy("acme") is None
    store.set_policy(acme, "CRITICAL", True, False)
    store.set_policy(acme, "HIGH", True, True)
    policy = store.policy("acme")
    assert policy is not None
    assert (policy.block_on, policy.block_pulls, policy.allow_unscanned) == ("HIGH", True, True)
    assert store.projects_blocking_pulls() == {"acme"}

    later = datetime.now(UTC) + timedelta(days=3)
    first = store.add_allowlist(acme, "CVE-1", "why", later, "admin")
    store.add_allowlist(acme, "CVE-1", "renewed", later, "admin")  # replaces the first
    store.add_allowlist(None, "CVE-2", "everywhere", later, None)
    assert store.allowlist_entry(first) is None
    scoped = store.allowlist(acme, include_global=True)
    assert sorted((e.project or "", e.cve, e.reason) for e in scoped) == [
        ("", "CVE-2", "everywhere"), ("acme", "CVE-1", "renewed")]
    assert [e.cve for e in store.allowlist(None, include_global=False)] == ["CVE-2"]
    assert scoped[0].expires_at.tzinfo is not None

    # Verdicts count only manifests the project's repositories hold.
    repo = meta.ensure_repository("acme/web", "acme")
    assert repo is not None
    config = b'{"architecture":"amd64","os":"linux"}'
    digest = "sha256:" + hashlib.sha256(config).hexdigest()
    meta.link_blob(repo, digest, len(config))
    body = json.dumps({"schemaVersion": 2,
                       "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                  "digest": digest, "size": len(config)},
                       "layers": []}).encode()
    manifest = parse_manifest(body, None)
    assert meta.put_manifest(repo, manifest, body, "1.0") == []
    store.put_report(str(manifest.digest), "ok", None, {"findings": []}, 2,
                     verdicts=[(acme, str(manifest.digest), False, "contains X", 2)])
    assert store.project_manifests(acme) == [(acme, "acme", str(manifest.digest))]
    assert store.resolve("acme/web", "1.0") == str(manifest.digest)
    assert store.resolve("acme/web", str(manifest.digest)) == str(manifest.digest)
    assert store.resolve("acme/other", "1.0") is None
    verdict = store.verdict("acme", str(manifest.digest))
    assert verdict is not None
    assert (verdict.compliant, verdict.blocking, verdict.critical_open) == (False,
                                                                            "contains X", 2)
    assert store.critical_findings() == 2
    assert store.critical_findings(acme) == 2
    assert store.remove_allowlist(store.allowlist(acme, include_global=False)[0].id)
