"""The SQL of retention and garbage collection (wharf.lifecycle).

Reads give a repository's graph (tags, linked manifests and what they reference, linked
blobs) for the planners, which are pure functions. Every delete here re-checks, inside
the transaction that deletes, that the row is still unreferenced; on PostgreSQL the row is
first locked `FOR UPDATE`, which waits for a manifest PUT holding it `FOR SHARE`
(MetadataStore.put_manifest), and the re-check then runs as a new statement, so it sees
what that PUT committed. On SQLite the write transaction (BEGIN IMMEDIATE) excludes every
other writer, so check and delete are one step anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, func, select, update

from wharf.metadata import schema as s
from wharf.metadata.base import StoreBase
from wharf.metadata.retry import retrying
from wharf.metadata.store import lock_digests, now

BLOB = "blob"
CHILD = "manifest"


@dataclass(frozen=True, slots=True)
class RepositoryRow:
    id: int
    name: str
    project: str


@dataclass(frozen=True, slots=True)
class TagRow:
    name: str
    digest: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ManifestNode:
    """A manifest linked to a repository, with what it references."""

    digest: str
    pushed_at: datetime
    media_type: str
    artifact_type: str | None
    subject: str | None
    size: int
    children: tuple[str, ...] = ()
    blobs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BlobLink:
    digest: str
    size: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RepositoryGraph:
    """Everything one repository holds, as of one read transaction."""

    repository: RepositoryRow
    tags: tuple[TagRow, ...]
    manifests: dict[str, ManifestNode]
    blobs: dict[str, BlobLink]
    # Linked manifests that some index, in any repository, names as a child: without a
    # parent here they were pushed as part of an index that is gone.
    children_anywhere: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class PolicyRow:
    project_id: int
    project: str
    keep_last: int | None
    keep_tagged: str | None
    delete_untagged_after_seconds: int | None
    updated_at: datetime
    updated_by: str | None
    last_run_at: datetime | None
    last_result: str | None


@dataclass(frozen=True, slots=True)
class GcRunRow:
    id: int
    project: str | None
    status: str
    dry_run: bool
    grace_seconds: int
    phase: str | None
    requested_by: str | None
    summary: str | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    updated_at: datetime
    finished_at: datetime | None


def utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes (stored as UTC); make every one aware."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _maybe_utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else utc(moment)


def _run(row: Any) -> GcRunRow:
    return GcRunRow(row.id, row.project, row.status, bool(row.dry_run), row.grace_seconds,
                    row.phase, row.requested_by, row.summary, row.error, utc(row.created_at),
                    _maybe_utc(row.started_at), utc(row.updated_at),
                    _maybe_utc(row.finished_at))


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


@retrying
class LifecycleStore(StoreBase):
    # -- projects and repositories --------------------------------------------------

    def project_id(self, name: str) -> int | None:
        with self._read() as conn:
            return conn.scalar(select(s.projects.c.id).where(s.projects.c.name == name))

    def repositories(self, project: str | None = None,
                     name: str | None = None) -> list[RepositoryRow]:
        query = (select(s.repositories.c.id, s.repositories.c.name, s.projects.c.name)
                 .join(s.projects, s.projects.c.id == s.repositories.c.project_id)
                 .order_by(s.repositories.c.name))
        if project is not None:
            query = query.where(s.projects.c.name == project)
        if name is not None:
            query = query.where(s.repositories.c.name == name)
        with self._read() as conn:
            return [RepositoryRow(r[0], r[1], r[2]) for r in conn.execute(query)]

    def graph(self, repository: RepositoryRow) -> RepositoryGraph:
        rid = repository.id
        rm, m, mr = s.repository_manifests, s.manifests, s.manifest_references
        linked = select(rm.c.digest).where(rm.c.repository_id == rid)
        with self._read() as conn:
            tags = tuple(TagRow(r.name, r.digest, utc(r.updated_at)) for r in conn.execute(
                select(s.tags.c.name, s.tags.c.digest, s.tags.c.updated_at)
                .where(s.tags.c.repository_id == rid).order_by(s.tags.c.name)))
            children: dict[str, list[str]] = {}
            blob_refs: dict[str, list[str]] = {}
            for r in conn.execute(select(mr.c.parent, mr.c.child, mr.c.kind)
                                  .where(mr.c.parent.in_(linked))):
                (children if r.kind == CHILD else blob_refs).setdefault(r.parent, []).append(
                    r.child)
            manifests = {
                r.digest: ManifestNode(r.digest, utc(r.pushed_at), r.media_type, r.artifact_type,
                                       r.subject, r.size,
                                       tuple(sorted(children.get(r.digest, ()))),
                                       tuple(sorted(blob_refs.get(r.digest, ()))))
                for r in conn.execute(
                    select(m.c.digest, rm.c.pushed_at, m.c.media_type, m.c.artifact_type,
                           m.c.subject, m.c.size)
                    .join(rm, rm.c.digest == m.c.digest).where(rm.c.repository_id == rid))}
            blobs = {r.digest: BlobLink(r.digest, r.size, utc(r.created_at)) for r in conn.execute(
                select(s.blobs.c.digest, s.blobs.c.size, s.repository_blobs.c.created_at)
                .join(s.repository_blobs, s.repository_blobs.c.digest == s.blobs.c.digest)
                .where(s.repository_blobs.c.repository_id == rid))}
            anywhere = frozenset(conn.scalars(
                select(mr.c.child).distinct().where(mr.c.kind == CHILD,
                                                    mr.c.child.in_(linked))))
        return RepositoryGraph(repository, tags, manifests, blobs, anywhere)

    # -- retention policies ---------------------------------------------------------

    def _policy_query(self) -> Any:
        p = s.retention_policies
        return select(p, s.projects.c.name.label("project")).join(
            s.projects, s.projects.c.id == p.c.project_id)

    @staticmethod
    def _policy(row: Any) -> PolicyRow:
        return PolicyRow(row.project_id, row.project, row.keep_last, row.keep_tagged,
                         row.delete_untagged_after_seconds, utc(row.updated_at),
                         row.updated_by, _maybe_utc(row.last_run_at), row.last_result)

    def get_policy(self, project: str) -> PolicyRow | None:
        with self._read() as conn:
            row = conn.execute(self._policy_query().where(s.projects.c.name == project)).first()
        return None if row is None else self._policy(row)

    def list_policies(self) -> list[PolicyRow]:
        with self._read() as conn:
            return [self._policy(r) for r in conn.execute(
                self._policy_query().order_by(s.projects.c.name))]

    def put_policy(self, project_id: int, keep_last: int | None, keep_tagged: str | None,
                   delete_untagged_after_seconds: int | None, updated_by: str | None) -> None:
        values = {"keep_last": keep_last, "keep_tagged": keep_tagged,
                  "delete_untagged_after_seconds": delete_untagged_after_seconds,
                  "updated_at": now(), "updated_by": updated_by}
        stmt = self._insert(s.retention_policies).values(project_id=project_id, **values)
        with self._write() as conn:
            conn.execute(stmt.on_conflict_do_update(
                index_elements=[s.retention_policies.c.project_id], set_=values))

    def delete_policy(self, project_id: int) -> bool:
        p = s.retention_policies
        with self._write() as conn:
            return conn.execute(delete(p).where(p.c.project_id == project_id)).rowcount > 0

    def record_retention_run(self, project_id: int, result: str) -> None:
        p = s.retention_policies
        with self._write() as conn:
            conn.execute(update(p).where(p.c.project_id == project_id)
                         .values(last_run_at=now(), last_result=result))

    # -- retention: untag and unlink ------------------------------------------------

    def apply_retention(self, repository_id: int, tags: Sequence[tuple[str, str]],
                        manifests: Sequence[str]) -> tuple[list[tuple[str, str]], list[str]]:
        """Delete the planned tags (only where they still name the planned digest: a tag
        moved by a concurrent push is that push's) and unlink the planned manifests that
        no tag names any more. Returns what was removed."""
        t, rm = s.tags, s.repository_manifests
        removed_tags: list[tuple[str, str]] = []
        removed: list[str] = []
        with self._write() as conn:
            for name, digest in tags:
                if conn.execute(delete(t).where(t.c.repository_id == repository_id,
                                                t.c.name == name,
                                                t.c.digest == digest)).rowcount:
                    removed_tags.append((name, digest))
            for digest in manifests:
                tagged = exists().where(t.c.repository_id == repository_id, t.c.digest == digest)
                if conn.execute(delete(rm).where(rm.c.repository_id == repository_id,
                                                 rm.c.digest == digest, ~tagged)).rowcount:
                    removed.append(digest)
        return removed_tags, removed

    # -- garbage collection: repository links --------------------------------------

    def _lock(self, conn: Connection, query: Any) -> None:
        # Only PostgreSQL renders FOR UPDATE; SQLite holds the database write lock.
        if conn.dialect.name == "postgresql":
            conn.execute(query.with_for_update())

    def remove_attached_tags(self, repository_id: int, tags: Sequence[tuple[str, str, str]],
                             cutoff: datetime) -> list[tuple[str, str]]:
        """Delete tags `(name, digest, subject)` that attach an artefact (a cosign
        signature) to a subject the repository no longer holds."""
        t, rm = s.tags, s.repository_manifests
        removed = []
        with self._write() as conn:
            for name, digest, subject in tags:
                held = exists().where(rm.c.repository_id == repository_id,
                                      rm.c.digest == subject)
                if conn.execute(delete(t).where(
                        t.c.repository_id == repository_id, t.c.name == name,
                        t.c.digest == digest, t.c.updated_at < cutoff, ~held)).rowcount:
                    removed.append((name, digest))
        return removed

    def remove_manifest_links(self, repository_id: int, digests: Sequence[str],
                              cutoff: datetime, batch: int = 200) -> list[str]:
        """Unlink manifests nothing in the repository holds any more: no tag, no linked
        index naming them as a child, and no linked subject (referrers follow theirs).
        Repeated until nothing more goes, because a child is only free once the parent
        that held it is unlinked (in an earlier statement)."""
        rm, mr, m, t = s.repository_manifests, s.manifest_references, s.manifests, s.tags
        parent = rm.alias("parent")
        subject_link = rm.alias("subject_link")
        tagged = exists().where(t.c.repository_id == repository_id, t.c.digest == rm.c.digest)
        has_parent = exists().select_from(mr.join(parent, and_(
            parent.c.digest == mr.c.parent, parent.c.repository_id == repository_id))).where(
            mr.c.child == rm.c.digest, mr.c.kind == CHILD)
        subject_held = exists().select_from(m.join(subject_link, and_(
            subject_link.c.digest == m.c.subject,
            subject_link.c.repository_id == repository_id))).where(m.c.digest == rm.c.digest)
        removed: list[str] = []
        remaining = list(digests)
        while remaining:
            gone: set[str] = set()
            for chunk in _chunks(remaining, batch):
                key = and_(rm.c.repository_id == repository_id, rm.c.digest.in_(chunk))
                with self._write() as conn:
                    self._lock(conn, select(rm.c.digest).where(key))
                    gone |= set(conn.scalars(delete(rm).where(
                        key, rm.c.pushed_at < cutoff, ~tagged, ~has_parent, ~subject_held)
                        .returning(rm.c.digest)))
            if not gone:
                break
            removed += [d for d in remaining if d in gone]
            remaining = [d for d in remaining if d not in gone]
        return removed

    def remove_blob_links(self, repository_id: int, digests: Sequence[str], cutoff: datetime,
                          batch: int = 500) -> list[str]:
        """Unlink blobs that no manifest linked to the repository references."""
        rb, rm, mr = s.repository_blobs, s.repository_manifests, s.manifest_references
        referenced = exists().select_from(mr.join(rm, and_(
            rm.c.digest == mr.c.parent, rm.c.repository_id == repository_id))).where(
            mr.c.child == rb.c.digest, mr.c.kind == BLOB)
        removed: list[str] = []
        for chunk in _chunks(list(digests), batch):
            key = and_(rb.c.repository_id == repository_id, rb.c.digest.in_(chunk))
            with self._write() as conn:
                self._lock(conn, select(rb.c.digest).where(key))
                removed += conn.scalars(delete(rb).where(
                    key, rb.c.created_at < cutoff, ~referenced).returning(rb.c.digest))
        return removed

    # -- garbage collection: content rows and bytes --------------------------------

    def unlinked_manifests(self, cutoff: datetime, limit: int = 10000) -> list[str]:
        m, rm = s.manifests, s.repository_manifests
        query = (select(m.c.digest).where(m.c.created_at < cutoff,
                                          ~exists().where(rm.c.digest == m.c.digest))
                 .order_by(m.c.digest).limit(limit))
        with self._read() as conn:
            return list(conn.scalars(query))

    def delete_manifest_rows(self, digests: Sequence[str], cutoff: datetime,
                             batch: int = 200) -> list[str]:
        """Delete manifests no repository links (their reference rows go with them)."""
        m, rm = s.manifests, s.repository_manifests
        linked = exists().where(rm.c.digest == m.c.digest)
        removed: list[str] = []
        for chunk in _chunks(list(digests), batch):
            with self._write() as conn:
                self._lock(conn, select(m.c.digest).where(m.c.digest.in_(chunk)))
                removed += conn.scalars(delete(m).where(
                    m.c.digest.in_(chunk), m.c.created_at < cutoff, ~linked)
                    .returning(m.c.digest))
        return removed

    def _blob_unreferenced(self) -> Any:
        b, rb, rm, mr = s.blobs, s.repository_blobs, s.repository_manifests, s.manifest_references
        linked = exists().where(rb.c.digest == b.c.digest)
        # A manifest still linked somewhere keeps its blobs even if a client deleted the
        # blob's link (DELETE /v2/<name>/blobs/<digest>): its pulls would break otherwise.
        named = exists().select_from(mr.join(rm, rm.c.digest == mr.c.parent)).where(
            mr.c.child == b.c.digest, mr.c.kind == BLOB)
        return and_(~linked, ~named)

    def unlinked_blobs(self, cutoff: datetime, limit: int = 10000) -> list[str]:
        b = s.blobs
        query = (select(b.c.digest).where(b.c.created_at < cutoff, self._blob_unreferenced())
                 .order_by(b.c.digest).limit(limit))
        with self._read() as conn:
            return list(conn.scalars(query))

    def delete_blob_rows(self, digests: Sequence[str], cutoff: datetime,
                         batch: int = 500) -> list[tuple[str, int]]:
        """Delete blob rows nothing links or references; returns `(digest, size)` of each
        deleted row. Their bytes are deleted afterwards (`delete_bytes_without_row`)."""
        b = s.blobs
        removed: list[tuple[str, int]] = []
        for chunk in _chunks(sorted(digests), batch):
            with self._write() as conn:
                lock_digests(conn, chunk)
                self._lock(conn, select(b.c.digest).where(b.c.digest.in_(chunk)))
                removed += [(r.digest, int(r.size)) for r in conn.execute(delete(b).where(
                    b.c.digest.in_(chunk), b.c.created_at < cutoff, self._blob_unreferenced())
                    .returning(b.c.digest, b.c.size))]
        return removed

    def delete_bytes_without_row(self, digests: Sequence[str],
                                 delete_bytes: Callable[[list[str]], None],
                                 batch: int = 200) -> list[str]:
        """Call `delete_bytes` with the digests of a batch that have no blob row, holding
        their locks so an upload committing the same digest (MetadataStore.link_blob)
        waits, and then finds the bytes gone and moves its own in. A crash in here leaves
        bytes without a row, which the next run's orphan sweep reclaims; never a row
        naming missing bytes."""
        b = s.blobs
        deleted: list[str] = []
        for chunk in _chunks(sorted(digests), batch):
            with self._write() as conn:
                lock_digests(conn, chunk)
                present = set(conn.scalars(select(b.c.digest).where(b.c.digest.in_(chunk))))
                doomed = [d for d in chunk if d not in present]
                if doomed:
                    delete_bytes(doomed)
                deleted += doomed
        return deleted

    def existing_blobs(self, digests: Sequence[str]) -> set[str]:
        b = s.blobs
        found: set[str] = set()
        with self._read() as conn:
            for chunk in _chunks(list(digests), 500):
                found |= set(conn.scalars(select(b.c.digest).where(b.c.digest.in_(chunk))))
        return found

    def link_counts(self, table: str, digests: Sequence[str]) -> dict[str, int]:
        """How many repositories link each digest (`table`: "blobs" or "manifests")."""
        links = s.repository_blobs if table == "blobs" else s.repository_manifests
        counts: dict[str, int] = {}
        with self._read() as conn:
            for chunk in _chunks(list(digests), 500):
                for digest, count in conn.execute(
                        select(links.c.digest, func.count()).where(links.c.digest.in_(chunk))
                        .group_by(links.c.digest)):
                    counts[digest] = int(count)
        return counts

    def blob_sizes(self, digests: Sequence[str]) -> dict[str, int]:
        b = s.blobs
        sizes: dict[str, int] = {}
        with self._read() as conn:
            for chunk in _chunks(list(digests), 500):
                sizes.update({r.digest: int(r.size) for r in conn.execute(
                    select(b.c.digest, b.c.size).where(b.c.digest.in_(chunk)))})
        return sizes

    # -- upload sessions ------------------------------------------------------------

    # -- GC runs ---------------------------------------------------------------------

    def create_run(self, project: str | None, dry_run: bool, grace_seconds: int,
                   requested_by: str | None) -> int:
        stamp = now()
        with self._write() as conn:
            result = conn.execute(s.gc_runs.insert().values(
                project=project, status="queued", dry_run=dry_run, grace_seconds=grace_seconds,
                requested_by=requested_by, created_at=stamp, updated_at=stamp)
                .returning(s.gc_runs.c.id))
            return int(result.scalar_one())

    def update_run(self, run_id: int, **values: Any) -> None:
        g = s.gc_runs
        with self._write() as conn:
            conn.execute(update(g).where(g.c.id == run_id).values(updated_at=now(), **values))

    def get_run(self, run_id: int) -> GcRunRow | None:
        with self._read() as conn:
            row = conn.execute(select(s.gc_runs).where(s.gc_runs.c.id == run_id)).first()
        return None if row is None else _run(row)

    def list_runs(self, project: str | None = None, limit: int = 20) -> list[GcRunRow]:
        g = s.gc_runs
        query = select(g).order_by(g.c.id.desc()).limit(limit)
        if project is not None:
            query = query.where(g.c.project == project)
        with self._read() as conn:
            return [_run(r) for r in conn.execute(query)]

    def mark_interrupted(self, heartbeat_before: datetime) -> int:
        """Runs whose worker stopped beating (it was killed) are marked interrupted."""
        g = s.gc_runs
        with self._write() as conn:
            return conn.execute(update(g).where(
                g.c.status == "running", g.c.updated_at < heartbeat_before).values(
                status="interrupted", finished_at=now())).rowcount

    # -- reports ---------------------------------------------------------------------

    def blobs_linked_elsewhere(self, project: str, digests: Sequence[str]) -> set[str]:
        """Which of `digests` a repository of another project links."""
        rb, r, p = s.repository_blobs, s.repositories, s.projects
        found: set[str] = set()
        with self._read() as conn:
            for chunk in _chunks(list(digests), 500):
                found |= set(conn.scalars(
                    select(rb.c.digest).distinct()
                    .join(r, r.c.id == rb.c.repository_id).join(p, p.c.id == r.c.project_id)
                    .where(rb.c.digest.in_(chunk), p.c.name != project)))
        return found

    def manifest_sizes(self, digests: Sequence[str]) -> dict[str, int]:
        m = s.manifests
        sizes: dict[str, int] = {}
        with self._read() as conn:
            for chunk in _chunks(list(digests), 500):
                sizes.update({r.digest: int(r.size) for r in conn.execute(
                    select(m.c.digest, m.c.size).where(m.c.digest.in_(chunk)))})
        return sizes


__all__ = ["BlobLink", "GcRunRow", "LifecycleStore", "ManifestNode", "PolicyRow",
           "RepositoryGraph", "RepositoryRow", "TagRow"]
