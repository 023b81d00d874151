"""The scanning service: layer indexing, manifest reports, policy verdicts, allowlists.

Write order at manifest PUT: the manifest's layers are indexed (if not already, bounded by
`ScanLimits`), its report is computed from the inventories and stored by digest, then the
project's verdict is stored and, when the policy blocks, the PUT is refused before the
manifest is. A stored report for a manifest that was then refused is harmless: reports are
facts about content, keyed by digest.

Re-evaluation never re-reads layers: a new vulnerability database recomputes reports from
stored inventories; a policy or allowlist change recomputes verdicts from stored reports.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wharf import errors
from wharf.errors import RegistryError
from wharf.metadata.scan_store import AllowlistRow, PolicyRow, ScanStore
from wharf.metadata.store import InTransaction, now
from wharf.oci import mediatypes as mt
from wharf.oci.digest import Digest
from wharf.oci.manifest import Manifest, ManifestError, parse_manifest
from wharf.oci.names import project_of
from wharf.scanning import matcher, sbom
from wharf.scanning import severity as sev
from wharf.scanning.background import BackgroundIndexer
from wharf.scanning.indexer import LayerIndexer
from wharf.scanning.limits import ScanLimits
from wharf.scanning.model import LAYER_FAILED, LayerInventory, merge_layers
from wharf.scanning.policy import (
    SCAN_FAILED,
    SCAN_OK,
    SCAN_UNSUPPORTED,
    Verdict,
    active_ids,
    evaluate,
    is_allowlisted,
)
from wharf.scanning.stream import looks_like_layer
from wharf.scanning.vulndb import VulnDatabase
from wharf.storage import keys
from wharf.storage.driver import NotFoundError, StorageDriver

log = logging.getLogger("wharf.scanning")

IMAGE_CONFIGS = frozenset({"application/vnd.oci.image.config.v1+json",
                           "application/vnd.docker.container.image.v1+json"})
_PULL_POLICY_TTL = 5.0
# Layers at least this big are indexed in the background after their commit; indexing
# smaller ones at manifest PUT costs the PUT a millisecond or two.
BACKGROUND_MIN_BYTES = 1 << 20


def _is_layer(media_type: str) -> bool:
    return "tar" in media_type or media_type.startswith("application/vnd.docker.image.rootfs")


class _MissingLayer(Exception):  # noqa: N818 - a signal, not an error to report
    """A layer is not in storage: the registry refuses the manifest with
    MANIFEST_BLOB_UNKNOWN, which must win over any scan verdict."""


def _interrupted() -> RegistryError:
    return RegistryError(errors.UNAVAILABLE, {"reason": "layer indexing was interrupted"})


def _invalid(reason: str) -> RegistryError:
    return RegistryError(errors.INVALID_REQUEST, {"reason": reason}, f"invalid request: {reason}")


@dataclass(frozen=True, slots=True)
class AllowlistEntry:
    row: AllowlistRow

    def to_json(self, at: datetime) -> dict[str, Any]:
        r = self.row
        return {"id": r.id, "project": r.project, "cve": r.cve, "reason": r.reason,
                "expires_at": r.expires_at.isoformat(), "expired": r.expires_at <= at,
                "created_by": r.created_by, "created_at": r.created_at.isoformat()}


class ScanService:
    def __init__(self, store: ScanStore, driver: StorageDriver,
                 limits: ScanLimits | None = None,
                 enqueue_index: Callable[[str], None] | None = None) -> None:
        self.store = store
        self.driver = driver
        self.indexer = LayerIndexer(limits)
        self.vulndb = VulnDatabase(store)
        self.matcher = matcher.Matcher(store)
        # Eager indexing after a blob commit (scanning.background), when configured.
        self.enqueue_index = enqueue_index
        self._background: BackgroundIndexer | None = None
        self._inflight: dict[str, Future[LayerInventory]] = {}
        self._lock = threading.Lock()
        self._pull_blockers: tuple[float, set[str]] = (0.0, set())

    # -- layers -------------------------------------------------------------------

    def index_in_background(self) -> None:
        """Index each committed blob soon after its commit, in this process."""
        self._background = BackgroundIndexer(self.index_if_layers)
        self.enqueue_index = self._background.submit

    def close(self) -> None:
        if self._background is not None:
            self._background.close()

    def blob_committed(self, digest: Digest, size: int) -> None:
        """Hook after a blob commit: index a big one soon, off the request. A small one
        is indexed at manifest PUT, where its inventory is stored in the manifest's
        transaction: cheaper than a background write of its own, and quick."""
        if self.enqueue_index is not None and size >= BACKGROUND_MIN_BYTES:
            try:
                self.enqueue_index(str(digest))
            except Exception:  # a queue hiccup must not fail the upload; PUT indexes anyway
                log.exception("could not queue indexing of %s", digest)

    def index_if_layer(self, digest_text: str) -> bool:
        """Job body: index a committed blob if it looks like a layer and is not indexed."""
        return self.index_if_layers([digest_text]) > 0

    def index_if_layers(self, digests: list[str]) -> int:
        """Index the committed blobs among `digests` that look like layers and are not
        indexed yet; returns how many were indexed."""
        indexed = self.store.indexed_layers(digests)
        layers = [d for d in dict.fromkeys(digests) if d not in indexed and self._is_layer(d)]
        return len(self.index_layers(layers)) if layers else 0

    def _is_layer(self, digest_text: str) -> bool:
        try:
            head = b"".join(self.driver.read(keys.blob(Digest.parse(digest_text)), 0, 1024))
        except NotFoundError:
            return False
        return looks_like_layer(head)  # not a config or artefact blob

    def index_layer(self, digest_text: str) -> LayerInventory:
        return self.index_layers([digest_text])[digest_text]

    def index_layers(self, digests: list[str], *, store: bool = True
                     ) -> dict[str, LayerInventory]:
        """Index layers, each once however many callers ask at the same time (they share
        the work), storing the new inventories in one transaction unless the caller
        stores them (`store=False`). Raises the first failure once every layer is
        settled."""
        owned: dict[str, Future[LayerInventory]] = {}
        shared: dict[str, Future[LayerInventory]] = {}
        with self._lock:
            for digest in dict.fromkeys(digests):
                future = self._inflight.get(digest)
                if future is None:
                    owned[digest] = self._inflight[digest] = Future()
                else:
                    shared[digest] = future
        done: dict[str, LayerInventory] = {}
        failed: dict[str, BaseException] = {}
        try:
            for digest, future in owned.items():
                # Each waiter (a manifest PUT) gets its layer as soon as it is indexed,
                # not when the whole batch is stored: it needs the inventory, not the row.
                try:
                    done[digest] = self._index(digest)
                    future.set_result(done[digest])
                except Exception as exc:
                    failed[digest] = exc
                    future.set_exception(exc)
            if done and store:
                self.store.put_layers({d: inv.to_json() for d, inv in done.items()})
        finally:
            with self._lock:
                for digest, future in owned.items():
                    self._inflight.pop(digest, None)
                    if not future.done():  # interrupted before its turn
                        future.set_exception(_interrupted())
        result = dict(done)
        for digest, future in shared.items():
            result[digest] = future.result()
        if failed:
            raise next(iter(failed.values()))
        return result

    def _index(self, digest_text: str) -> LayerInventory:
        digest = Digest.parse(digest_text)
        try:
            inventory = self.indexer.index(self.driver.read(keys.blob(digest)))
        except NotFoundError as exc:
            raise _MissingLayer(digest_text) from exc
        except OSError as exc:
            # Storage trouble is not the layer's fault: do not record a verdict on it.
            raise RegistryError(errors.UNAVAILABLE, {"reason": str(exc)}) from exc
        log.info("indexed layer %s: %s, %d packages, %d entries, %.2fs", digest_text,
                 inventory.status if inventory.reason is None else inventory.reason,
                 len(inventory.packages), inventory.entries, inventory.seconds)
        return inventory

    def _inventories(self, digests: list[str], *, index_missing: bool,
                     unstored: dict[str, LayerInventory] | None = None) -> list[LayerInventory]:
        """The layers' inventories, indexing the missing ones if asked: stored at once, or
        added to `unstored` for the caller to store."""
        stored = self.store.layers(digests)
        missing = [d for d in digests if d not in stored]
        fresh = (self.index_layers(missing, store=unstored is None)
                 if missing and index_missing else {})
        if unstored is not None:
            unstored.update(fresh)
        result = []
        for digest in digests:
            if digest in stored:
                result.append(LayerInventory.from_json(stored[digest]))
            elif digest in fresh:
                result.append(fresh[digest])
            else:
                result.append(LayerInventory(LAYER_FAILED, "layer not indexed"))
        return result

    # -- reports ------------------------------------------------------------------

    def _image_report(self, manifest: Manifest, *, index_missing: bool,
                      unstored: dict[str, LayerInventory] | None = None) -> dict[str, Any]:
        digest = str(manifest.digest)
        base: dict[str, Any] = {"digest": digest, "media_type": manifest.media_type,
                                "scanned_at": now().isoformat()}
        if manifest.config_media_type not in IMAGE_CONFIGS:
            return {**base, "status": SCAN_UNSUPPORTED, "findings": [], "packages": 0,
                    "reason": f"not a container image ({manifest.artifact_type})"}
        layer_digests = [str(d.digest) for d in manifest.blobs[1:]
                         if not d.foreign and _is_layer(d.media_type)]
        layers = self._inventories(layer_digests, index_missing=index_missing,
                                   unstored=unstored)
        image = merge_layers(layers)
        findings = self.matcher.match(image.packages, image.os_release)
        os_release = image.os_release
        status = SCAN_FAILED if image.failures else SCAN_OK
        return {**base, "status": status,
                "reason": "; ".join(image.failures) if image.failures else None,
                "os": os_release.pretty_name or f"{os_release.id} {os_release.version_id}"
                if os_release else None,
                "packages": len(image.packages),
                "layers": [{"digest": d, "status": inv.status, "reason": inv.reason,
                            "packages": len(inv.packages)}
                           for d, inv in zip(layer_digests, layers, strict=True)],
                "counts": matcher.counts(findings), "findings": findings}

    def _index_report(self, manifest: Manifest, *, index_missing: bool) -> dict[str, Any]:
        platforms = []
        findings: list[dict[str, Any]] = []
        failures = []
        for child in manifest.children:
            if child.media_type not in mt.IMAGE_MANIFESTS:
                continue
            report = self.report_for_digest(str(child.digest), index_missing=index_missing)
            platform = child.platform or {}
            label = "/".join(p for p in (platform.get("os"), platform.get("architecture"),
                                         platform.get("variant")) if p) or "unknown"
            if label == "unknown/unknown":
                continue  # attestation manifests (BuildKit) are not platforms
            if report is None:
                continue
            platforms.append({"platform": label, "digest": str(child.digest),
                              "status": report["status"], "reason": report.get("reason"),
                              "counts": report.get("counts", {})})
            if report["status"] == SCAN_FAILED:
                failures.append(f"{label}: {report.get('reason')}")
            findings += [{**f, "platform": label} for f in report.get("findings", [])]
        findings.sort(key=lambda f: (-sev.rank(f["severity"]), -(f["score"] or 0), f["id"]))
        status = SCAN_FAILED if failures else (SCAN_OK if platforms else SCAN_UNSUPPORTED)
        # The summary counts a finding once however many platforms share it.
        return {"digest": str(manifest.digest), "media_type": manifest.media_type,
                "scanned_at": now().isoformat(), "status": status,
                "reason": "; ".join(failures) or None, "platforms": platforms,
                "counts": _dedupe_counts(findings), "findings": findings}

    def build_report(self, manifest: Manifest, *, index_missing: bool = True,
                     unstored: dict[str, LayerInventory] | None = None,
                     store: bool = True) -> dict[str, Any]:
        report = (self._index_report(manifest, index_missing=index_missing)
                  if manifest.is_index else
                  self._image_report(manifest, index_missing=index_missing,
                                     unstored=unstored))
        if store:
            self._store_report(report)
        return report

    def _store_report(self, report: dict[str, Any],
                      verdicts: list[tuple[int, str, bool, str | None, int]] | None = None
                      ) -> None:
        critical = report.get("counts", {}).get("CRITICAL", 0)
        self.store.put_report(report["digest"], report["status"], report.get("reason"),
                              report, critical, verdicts=verdicts)

    def report_for_digest(self, digest: str, *, index_missing: bool = True
                          ) -> dict[str, Any] | None:
        """The stored report, computing it for a manifest stored before scanning was."""
        report = self.store.report(digest)
        if report is not None:
            return report
        stored = self.store.manifest_body(digest)
        if stored is None:
            return None
        try:
            manifest = parse_manifest(stored[1], stored[0])
        except ManifestError:
            return None
        try:
            return self.build_report(manifest, index_missing=index_missing)
        except _MissingLayer:
            return None  # its layers are gone (deleted since): nothing to report

    # -- the push gate ------------------------------------------------------------

    def check_push(self, repository: str, manifest: Manifest) -> InTransaction | None:
        """Scan a manifest being pushed and refuse it if the project's policy says so.
        The report of an accepted one is stored in the manifest's transaction."""
        # Layers indexed now are stored with the manifest, like its report: one write.
        unstored: dict[str, LayerInventory] = {}
        try:
            report = self.build_report(manifest, store=False, unstored=unstored)
        except _MissingLayer:
            return None
        project = project_of(repository)
        project_id = self.store.project_id(project)
        verdict = self._verdict(project, project_id, report)
        verdicts = [] if project_id is None else [
            (project_id, report["digest"], verdict.compliant, verdict.blocking,
             verdict.critical_open)]
        critical = report.get("counts", {}).get("CRITICAL", 0)
        layers = {d: inv.to_json() for d, inv in unstored.items()}
        if verdict.compliant:
            return self.store.report_writer(report["digest"], report["status"],
                                            report.get("reason"), report, critical,
                                            verdicts=verdicts, layers=layers)
        # Kept although the manifest is not: `scan report` shows why it was refused.
        self.store.put_layers(layers)
        self._store_report(report, verdicts)
        raise RegistryError(errors.DENIED, {"reason": "scan policy", "digest": report["digest"]},
                            f"push rejected: image {verdict.blocking}")

    def check_pull(self, repository: str, digest: str) -> None:
        """Refuse pulls of images that became non-compliant, where a project asks to."""
        project = project_of(repository)
        if project not in self._blocking_pull_projects():
            return
        verdict = self.store.verdict(project, digest)
        if verdict is not None and not verdict.compliant:
            raise RegistryError(errors.DENIED, {"reason": "scan policy", "digest": digest},
                                f"pull refused: image {verdict.blocking}")

    def _blocking_pull_projects(self) -> set[str]:
        # A pull must not pay a query for a rarely-used setting: cached for a few seconds,
        # so another node's policy change applies within that time.
        at, projects = self._pull_blockers
        if time.monotonic() - at > _PULL_POLICY_TTL:
            projects = self.store.projects_blocking_pulls()
            self._pull_blockers = (time.monotonic(), projects)
        return projects

    def _verdict(self, project: str, project_id: int | None,
                 report: dict[str, Any]) -> Verdict:
        policy = self.store.policy(project)
        entries = self.store.allowlist(project_id, include_global=True)
        return evaluate(report, policy, active_ids(entries, now()))

    # -- re-evaluation ------------------------------------------------------------

    def reevaluate_reports(self, progress: Callable[[int, int], None] | None = None) -> int:
        """After a vulnerability-database change: recompute every report from stored
        inventories (no layer is read), then every verdict."""
        digests = self.store.reported_digests()
        manifests = []
        for digest in digests:
            stored = self.store.manifest_body(digest)
            if stored is None:
                continue
            try:
                manifests.append(parse_manifest(stored[1], stored[0]))
            except ManifestError:
                continue
        # Images before indexes: an index report is built from its children's.
        manifests.sort(key=lambda m: m.is_index)
        for done, manifest in enumerate(manifests, 1):
            self.build_report(manifest, index_missing=False)
            if progress is not None:
                progress(done, len(manifests))
        self.reevaluate_verdicts()
        return len(manifests)

    def reevaluate_verdicts(self, project_id: int | None = None) -> int:
        """After a policy or allowlist change: recompute verdicts from stored reports."""
        rows = []
        at = now()
        cache: dict[int, tuple[PolicyRow | None, set[str]]] = {}
        for pid, project, digest in self.store.project_manifests(project_id):
            if pid not in cache:
                cache[pid] = (self.store.policy(project),
                              active_ids(self.store.allowlist(pid, include_global=True), at))
            report = self.store.report(digest)
            if report is None:
                continue
            policy, allowed = cache[pid]
            verdict = evaluate(report, policy, allowed)
            rows.append((pid, digest, verdict.compliant, verdict.blocking,
                         verdict.critical_open))
        self.store.put_verdicts(rows)
        return len(rows)

    # -- what the API shows -------------------------------------------------------

    def resolve(self, repository: str, reference: str) -> str:
        digest = self.store.resolve(repository, reference)
        if digest is None:
            raise RegistryError(errors.MANIFEST_UNKNOWN, {"name": repository,
                                                          "reference": reference[:200]})
        return digest

    def report(self, repository: str, digest: str) -> dict[str, Any]:
        """The report as the repository's project sees it: findings marked allowlisted,
        and the project's verdict."""
        report = self.report_for_digest(digest)
        if report is None:
            raise RegistryError(errors.MANIFEST_UNKNOWN, {"digest": digest})
        project = project_of(repository)
        project_id = self.store.project_id(project)
        at = now()
        entries = self.store.allowlist(project_id, include_global=True) \
            if project_id is not None else []
        allowed = active_ids(entries, at)
        expired = {e.cve.upper() for e in entries if e.expires_at <= at} - allowed
        for finding in report.get("findings", []):
            finding["allowlisted"] = is_allowlisted(finding, allowed)
            if not finding["allowlisted"] and is_allowlisted(finding, expired):
                finding["allowlist_expired"] = True
        verdict = evaluate(report, self.store.policy(project), allowed)
        return {**report, "repository": repository, "project": project,
                "policy": {"compliant": verdict.compliant, "blocking": verdict.blocking,
                           "critical_open": verdict.critical_open}}

    def sbom(self, repository: str, digest: str) -> dict[str, Any]:
        stored = self.store.manifest_body(digest)
        if stored is None:
            raise RegistryError(errors.MANIFEST_UNKNOWN, {"digest": digest})
        manifest = parse_manifest(stored[1], stored[0])
        images = []
        if manifest.is_index:
            for child in manifest.children:
                body = self.store.manifest_body(str(child.digest))
                if body is not None and child.media_type in mt.IMAGE_MANIFESTS:
                    images.append(parse_manifest(body[1], body[0]))
        else:
            images.append(manifest)
        packages, os_release = [], None
        for image in images:
            layer_digests = [str(d.digest) for d in image.blobs[1:]
                             if not d.foreign and _is_layer(d.media_type)]
            try:
                merged = merge_layers(self._inventories(layer_digests, index_missing=True))
            except _MissingLayer as exc:
                raise RegistryError(errors.BLOB_UNKNOWN, {"digest": str(exc)}) from exc
            packages += merged.packages
            os_release = os_release or merged.os_release
        report = self.report_for_digest(digest) or {}
        return sbom.cyclonedx(repository, digest, packages, os_release,
                              report.get("findings", []))

    def critical_findings(self, project: str | None = None) -> int:
        project_id = self.store.project_id(project) if project else None
        if project and project_id is None:
            return 0
        return self.store.critical_findings(project_id)

    # -- policy and allowlist -----------------------------------------------------

    def _project_id(self, project: str) -> int:
        project_id = self.store.project_id(project)
        if project_id is None:
            raise RegistryError(errors.RESOURCE_UNKNOWN, {"project": project},
                                f"project {project!r} not found")
        return project_id

    def policy(self, project: str) -> dict[str, Any]:
        self._project_id(project)
        row = self.store.policy(project)
        return {"project": project, "block_on": row.block_on if row else None,
                "block_pulls": bool(row and row.block_pulls),
                "allow_unscanned": bool(row and row.allow_unscanned),
                "critical_findings": self.critical_findings(project)}

    def set_policy(self, project: str, block_on: str | None, block_pulls: bool,
                   allow_unscanned: bool) -> dict[str, Any]:
        project_id = self._project_id(project)
        level = None
        if block_on is not None and block_on.lower() not in ("", "none", "off"):
            try:
                level = sev.parse_threshold(block_on)
            except ValueError as exc:
                raise _invalid(str(exc)) from exc
        self.store.set_policy(project_id, level, block_pulls, allow_unscanned)
        self._pull_blockers = (0.0, set())
        self.reevaluate_verdicts(project_id)
        return self.policy(project)

    def add_allowlist(self, project: str | None, cve: str, reason: str,
                      expires: datetime, created_by: str | None) -> dict[str, Any]:
        cve = cve.strip().upper()
        if not cve or len(cve) > 128 or any(c.isspace() for c in cve):
            raise _invalid("a CVE (or advisory id) is required, e.g. CVE-2024-1234")
        if not reason.strip():
            raise _invalid("a reason is required: say why the risk is accepted")
        if expires <= now():
            raise _invalid("the expiry must be in the future")
        project_id = self._project_id(project) if project else None
        entry_id = self.store.add_allowlist(project_id, cve, reason.strip(), expires,
                                            created_by)
        self.reevaluate_verdicts(project_id)
        row = self.store.allowlist_entry(entry_id)
        assert row is not None
        return AllowlistEntry(row).to_json(now())

    def list_allowlist(self, project: str | None) -> list[dict[str, Any]]:
        project_id = self._project_id(project) if project else None
        at = now()
        return [AllowlistEntry(r).to_json(at)
                for r in self.store.allowlist(project_id, include_global=False)]

    def allowlist_entry(self, entry_id: int) -> AllowlistRow:
        row = self.store.allowlist_entry(entry_id)
        if row is None:
            raise RegistryError(errors.RESOURCE_UNKNOWN, {"allowlist": entry_id},
                                f"allowlist entry {entry_id} not found")
        return row

    def remove_allowlist(self, entry_id: int) -> None:
        row = self.allowlist_entry(entry_id)
        self.store.remove_allowlist(entry_id)
        self.reevaluate_verdicts(self.store.project_id(row.project) if row.project else None)


def _dedupe_counts(findings: list[dict[str, Any]]) -> dict[str, int]:
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for f in findings:
        seen.setdefault((f["advisory"], f["package"], f["version"]), f)
    return matcher.counts(list(seen.values()))
