"""Online garbage collection.

Reference tracking lives in the metadata database; the blob store is never walked to
decide what is garbage (the orphan sweep, which lists it, only finds bytes that no row
names at all). A run, for each repository, plans from one consistent read what nothing
holds any more, once older than the grace period:
1. cosign attached tags whose subject the repository no longer holds;
2. manifest links nothing holds (`graph.Holds`): referrers whose subject is gone and
   children of deleted indexes, transitively; untagged manifests pushed by digest are
   retention's to remove, not GC's;
3. blob links no manifest linked to the repository references (a push uploads blobs
   before its manifest: the grace period, counted from the link's last upload or mount,
   covers that window).
Then, across the registry, manifest and blob rows that no repository links any more, and
finally the bytes of deleted blob rows. Every delete re-checks its condition inside the
transaction that deletes (wharf.metadata.lifecycle_store), so a push that re-links
concurrently wins, and a manifest PUT naming a blob GC removed fails with
MANIFEST_BLOB_UNKNOWN. Bytes go after their row (docs/adr/0001-write-order.md), under the
digest's lock, so an upload committing the same digest at that moment is never left with a
row naming missing bytes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from wharf.lifecycle.graph import Holds, attached_subject
from wharf.metadata.lifecycle_store import LifecycleStore, RepositoryGraph, RepositoryRow
from wharf.metadata.store import now
from wharf.oci.digest import Digest, DigestError
from wharf.registry.uploads import session_repository
from wharf.storage import keys
from wharf.storage.driver import StorageDriver

log = logging.getLogger("wharf.lifecycle.gc")

Progress = Callable[[str, "GcSummary"], None]


@dataclass(frozen=True, slots=True)
class RepositoryGcPlan:
    # (tag, digest it names, subject it attaches to)
    tags: list[tuple[str, str, str]] = field(default_factory=list)
    # In removal order: a parent before the children it alone held.
    manifests: list[str] = field(default_factory=list)
    blobs: list[str] = field(default_factory=list)


def plan_repository_gc(graph: RepositoryGraph, cutoff: datetime) -> RepositoryGcPlan:
    """What GC removes from one repository: only what nothing holds and is older than
    `cutoff` (pure: the same graph gives the same plan)."""
    plan = RepositoryGcPlan()
    dropped_tags: set[str] = set()
    for tag in graph.tags:
        subject = attached_subject(tag.name)
        if subject is not None and subject not in graph.manifests and tag.updated_at < cutoff:
            plan.tags.append((tag.name, tag.digest, subject))
            dropped_tags.add(tag.name)
    remaining = [t for t in graph.tags if t.name not in dropped_tags]
    tagged = {t.digest for t in remaining}
    orphaned_by_tag = {t.digest for t in graph.tags if t.name in dropped_tags} - tagged
    holds = Holds.of(graph, remaining)

    removed: set[str] = set()
    changed = True
    while changed:
        changed = False
        for node in sorted(graph.manifests.values(), key=lambda n: n.digest):
            digest = node.digest
            if digest in removed or digest in tagged or node.pushed_at >= cutoff:
                continue
            if holds.parents.get(digest, set()) & (graph.manifests.keys() - removed):
                continue
            if node.subject is not None:
                gone = node.subject not in graph.manifests or node.subject in removed
            else:
                gone = digest in graph.children_anywhere or digest in orphaned_by_tag
            if gone:
                removed.add(digest)
                plan.manifests.append(digest)
                changed = True

    referenced: set[str] = set()
    for node in graph.manifests.values():
        if node.digest not in removed:
            referenced.update(node.blobs)
    plan.blobs.extend(sorted(d for d, link in graph.blobs.items()
                             if d not in referenced and link.created_at < cutoff))
    return plan


@dataclass
class GcSummary:
    tags_removed: int = 0
    manifest_links_removed: int = 0
    blob_links_removed: int = 0
    manifests_deleted: int = 0
    blobs_deleted: int = 0
    bytes_freed: int = 0
    uploads_purged: int = 0
    orphans_deleted: int = 0
    repositories: int = 0
    dry_run: bool = False
    # Dry run: what would go (capped); real run: what went.
    detail: dict[str, list[Any]] = field(default_factory=dict)

    def note(self, kind: str, item: Any, cap: int = 1000) -> None:
        items = self.detail.setdefault(kind, [])
        if len(items) < cap:
            items.append(item)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class GarbageCollector:
    def __init__(self, store: LifecycleStore, driver: StorageDriver,
                 purge_uploads: Callable[[list[str]], int],
                 idle_uploads: Callable[[str | None], list[str]], *,
                 batch: int = 200,
                 sweep_orphans: bool = True) -> None:
        self.store = store
        self.driver = driver
        self.purge_uploads = purge_uploads
        self.idle_uploads = idle_uploads
        self.batch = batch
        self.sweep_orphans = sweep_orphans
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="gc-delete")

    def run(self, *, project: str | None, grace: timedelta, dry_run: bool = False,
            progress: Progress | None = None) -> GcSummary:
        """One pass. `project` limits the repository phases to its repositories; content
        no repository anywhere links any more belongs to no project and is reclaimed by
        any run. The orphan sweep lists the store, so only whole-registry runs do it."""
        cutoff = now() - grace
        summary = GcSummary(dry_run=dry_run)
        report = progress or (lambda _phase, _summary: None)
        planned_manifests: dict[str, int] = {}
        planned_blobs: dict[str, int] = {}
        for repo in self.store.repositories(project):
            summary.repositories += 1
            self._repository(repo, cutoff, summary, (planned_manifests, planned_blobs))
            report("repositories", summary)
        report("content", summary)
        if dry_run:
            self._plan_content(cutoff, summary, planned_manifests, planned_blobs)
        else:
            self._content(cutoff, summary, report)
        report("uploads", summary)
        stale = self.idle_uploads(project)
        summary.uploads_purged = len(stale) if dry_run else self.purge_uploads(stale)
        if project is None and self.sweep_orphans:
            report("orphans", summary)
            self._orphans(cutoff, dry_run, summary)
        return summary

    def _repository(self, repo: RepositoryRow, cutoff: datetime, summary: GcSummary,
                    planned: tuple[dict[str, int], dict[str, int]]) -> None:
        """Remove (or, in a dry run, count into `planned`) the repository's garbage."""
        plan = plan_repository_gc(self.store.graph(repo), cutoff)
        planned_manifests, planned_blobs = planned
        if summary.dry_run:
            for name, digest, _subject in plan.tags:
                summary.note("tags", {"repository": repo.name, "tag": name, "digest": digest})
            for digest in plan.manifests:
                summary.note("manifest_links", {"repository": repo.name, "digest": digest})
                planned_manifests[digest] = planned_manifests.get(digest, 0) + 1
            for digest in plan.blobs:
                planned_blobs[digest] = planned_blobs.get(digest, 0) + 1
            summary.tags_removed += len(plan.tags)
            summary.manifest_links_removed += len(plan.manifests)
            summary.blob_links_removed += len(plan.blobs)
            return
        if plan.tags:
            for name, digest in self.store.remove_attached_tags(repo.id, plan.tags, cutoff):
                summary.tags_removed += 1
                summary.note("tags", {"repository": repo.name, "tag": name, "digest": digest})
        if plan.manifests:
            for digest in self.store.remove_manifest_links(repo.id, plan.manifests, cutoff,
                                                           self.batch):
                summary.manifest_links_removed += 1
                summary.note("manifest_links", {"repository": repo.name, "digest": digest})
        if plan.blobs:
            summary.blob_links_removed += len(self.store.remove_blob_links(
                repo.id, plan.blobs, cutoff, self.batch))

    def _content(self, cutoff: datetime, summary: GcSummary, report: Progress) -> None:
        while True:
            candidates = self.store.unlinked_manifests(cutoff)
            deleted = self.store.delete_manifest_rows(candidates, cutoff, self.batch)
            summary.manifests_deleted += len(deleted)
            for digest in deleted:
                summary.note("manifests", digest)
            report("content", summary)
            if len(deleted) < len(candidates) or not deleted:
                break
        while True:
            candidates = self.store.unlinked_blobs(cutoff)
            rows = self.store.delete_blob_rows(candidates, cutoff, self.batch)
            sizes = dict(rows)
            gone = self.store.delete_bytes_without_row(list(sizes), self._delete_blob_bytes,
                                                       self.batch)
            summary.blobs_deleted += len(gone)
            summary.bytes_freed += sum(sizes[d] for d in gone)
            for digest in gone:
                summary.note("blobs", digest)
            report("content", summary)
            if len(rows) < len(candidates) or not rows:
                break

    def _plan_content(self, cutoff: datetime, summary: GcSummary,
                      planned_manifests: dict[str, int], planned_blobs: dict[str, int]) -> None:
        """Dry run of the content phase: rows unlinked now, plus those whose every link
        the repository phase would remove."""
        manifests = set(self.store.unlinked_manifests(cutoff))
        counts = self.store.link_counts("manifests", list(planned_manifests))
        manifests |= {d for d, n in planned_manifests.items() if counts.get(d, 0) <= n}
        blobs = set(self.store.unlinked_blobs(cutoff))
        counts = self.store.link_counts("blobs", list(planned_blobs))
        blobs |= {d for d, n in planned_blobs.items() if counts.get(d, 0) <= n}
        sizes = self.store.blob_sizes(sorted(blobs))
        summary.manifests_deleted = len(manifests)
        summary.blobs_deleted = len(blobs)
        summary.bytes_freed = sum(sizes.values())
        for digest in sorted(manifests):
            summary.note("manifests", digest)
        for digest in sorted(blobs):
            summary.note("blobs", digest)

    def _delete_blob_bytes(self, digests: list[str]) -> None:
        # In parallel: a delete is a syscall or an HTTP request that mostly waits, and the
        # batch holds the digests' locks (on SQLite the database write lock) meanwhile.
        def delete(digest: str) -> None:
            self.driver.delete(keys.blob(Digest.parse(digest)))

        if len(digests) == 1:
            delete(digests[0])
            return
        list(self._pool.map(delete, digests))

    def _orphans(self, cutoff: datetime, dry_run: bool, summary: GcSummary) -> None:
        """Bytes no row names (a crash between a blob's bytes and its row, or between a
        row's delete and its bytes'), and upload directories without a session."""
        limit = cutoff.timestamp()
        found: dict[str, str] = {}
        for key in self.driver.list("blobs"):
            digest = _digest_of_key(key)
            if digest is not None:
                found[digest] = key
        missing = sorted(set(found) - self.store.existing_blobs(sorted(found)))
        sizes: dict[str, int] = {}
        for digest in missing:
            info = self.driver.stat(found[digest])
            if info is not None and info.modified < limit:
                sizes[digest] = info.size
        if dry_run:
            summary.orphans_deleted += len(sizes)
        else:
            gone = self.store.delete_bytes_without_row(list(sizes), self._delete_blob_bytes,
                                                       self.batch)
            summary.orphans_deleted += len(gone)
            summary.bytes_freed += sum(sizes[d] for d in gone)
        sessions: dict[str, float] = {}
        for key in self.driver.list("uploads"):
            parts = key.split("/")
            if len(parts) >= 2:
                info = self.driver.stat(key)
                stamp = info.modified if info is not None else 0.0
                sessions[parts[1]] = max(sessions.get(parts[1], 0.0), stamp)
        # Sessions (whose ids name a repository) are the upload purge's, by idleness; a
        # directory under any other name is leftover whatever its age, and the grace
        # only spares in-flight deletes.
        for session_id, stamp in sorted(sessions.items()):
            if session_repository(session_id) is None and stamp < limit:
                summary.orphans_deleted += 1
                if not dry_run:
                    try:
                        self.driver.delete(keys.upload_dir(session_id))
                    except keys.InvalidKeyError:
                        continue


def _digest_of_key(key: str) -> str | None:
    parts = key.split("/")
    if len(parts) != 4 or parts[0] != "blobs":
        return None
    try:
        return str(Digest.parse(f"{parts[1]}:{parts[3]}"))
    except DigestError:
        return None


def throttled(fn: Progress, every: float = 1.0) -> Progress:
    """Call `fn` at most once per `every` seconds (and on every phase change)."""
    last: dict[str, Any] = {"at": 0.0, "phase": ""}

    def call(phase: str, summary: GcSummary) -> None:
        moment = time.monotonic()
        if phase != last["phase"] or moment - last["at"] >= every:
            last.update(at=moment, phase=phase)
            fn(phase, summary)

    return call
