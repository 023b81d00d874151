"""The metadata store: every query the registry runs, and nothing else.

Transactions: `_write()` takes the database write lock up front (SQLite BEGIN IMMEDIATE);
a manifest is checked against its references and inserted in one such transaction, so a
concurrent delete of what it references either happens before (and the PUT fails) or
after (and sees the new reference).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from wharf.metadata import schema as s
from wharf.metadata.base import StoreBase
from wharf.metadata.prepared import PreparedSelect
from wharf.metadata.retry import retrying
from wharf.oci.manifest import Manifest


def now() -> datetime:
    return datetime.now(UTC)


def lock_digests(conn: Connection, digests: Iterable[str]) -> None:
    """Serialise, per digest, placing a blob's bytes with deleting them (GC).

    PostgreSQL: transaction-scoped advisory locks, taken in sorted order so two holders
    cannot deadlock. SQLite: nothing to do, the write transaction (BEGIN IMMEDIATE)
    already excludes every other writer.
    """
    if conn.dialect.name != "postgresql":
        return
    for digest in sorted(set(digests)):
        key = int.from_bytes(hashlib.sha256(digest.encode()).digest()[:8], "big", signed=True)
        conn.execute(select(func.pg_advisory_xact_lock(key)))


# A write another store adds to a transaction of this one.
InTransaction = Callable[[Connection], None]


@dataclass(frozen=True, slots=True)
class StoredManifest:
    digest: str
    media_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class ReferrerRow:
    digest: str
    media_type: str
    artifact_type: str | None
    size: int
    annotations: dict[str, str] | None


# The pull path's SELECTs, built once with bound parameters: building a joined SELECT
# costs several times what SQLite takes to answer it (see prepared.py for how they run).
_REPOSITORY_ID = PreparedSelect(
    select(s.repositories.c.id).where(s.repositories.c.name == bindparam("name")))
_BLOB_SIZE = PreparedSelect(
    select(s.blobs.c.size)
    .join(s.repository_blobs, s.repository_blobs.c.digest == s.blobs.c.digest)
    .join(s.repositories, s.repositories.c.id == s.repository_blobs.c.repository_id)
    .where(s.repositories.c.name == bindparam("name"), s.blobs.c.digest == bindparam("digest"))
)
_MANIFEST = (
    select(s.manifests.c.digest, s.manifests.c.media_type, s.manifests.c.body)
    .join(s.repository_manifests, s.repository_manifests.c.digest == s.manifests.c.digest)
    .join(s.repositories, s.repositories.c.id == s.repository_manifests.c.repository_id)
    .where(s.repositories.c.name == bindparam("name"))
)
_MANIFEST_BY_TAG = PreparedSelect(_MANIFEST.join(s.tags, and_(
    s.tags.c.repository_id == s.repositories.c.id,
    s.tags.c.digest == s.manifests.c.digest)).where(s.tags.c.name == bindparam("tag")))
_MANIFEST_BY_DIGEST = PreparedSelect(_MANIFEST.where(s.manifests.c.digest == bindparam("digest")))
_TAG_NAMES = (
    select(s.tags.c.name)
    .join(s.repositories, s.repositories.c.id == s.tags.c.repository_id)
    .where(s.repositories.c.name == bindparam("name"), s.tags.c.name > bindparam("last"))
    .order_by(s.tags.c.name)
)
_TAG_PAGE = _TAG_NAMES.limit(bindparam("n"))


def _tag_page_json() -> PreparedSelect:
    """SQLite builds a page's JSON array itself, in the order the index scan feeds the
    aggregate: 1,000 rows turned into Python strings and encoded again cost several times
    more. The second column holds the page's last name and the one after it, if any."""
    page = _TAG_PAGE.subquery()
    edge = _TAG_NAMES.limit(2).offset(bindparam("edge")).subquery()
    return PreparedSelect(select(func.json_group_array(page.c.name),
                                 select(func.json_group_array(edge.c.name)).scalar_subquery()))


_TAG_PAGE_JSON = _tag_page_json()


@dataclass(frozen=True, slots=True)
class TagPage:
    """A page of a repository's tag names, in order, already encoded as a JSON array."""

    names_json: str
    next_last: str | None  # the page's last name when more follow (the Link header's)


@retrying
class MetadataStore(StoreBase):
    # -- repositories -------------------------------------------------------------

    def _pull_row(self, query: PreparedSelect, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """One row of a pull-path SELECT: prepared on SQLite, else through SQLAlchemy."""
        if self.engine.dialect.name == "sqlite":
            return query.first(self.engine, params)
        with self._single_read() as conn:
            row = conn.execute(query.statement, params).first()
        return None if row is None else tuple(row)

    def repository_id(self, name: str) -> int | None:
        row = self._pull_row(_REPOSITORY_ID, {"name": name})
        return None if row is None else int(row[0])

    def ensure_repository(self, name: str, project: str) -> int | None:
        """The repository's id, created on first push; None when its project does not exist
        (projects are created by an administrator, never implicitly)."""
        existing = self.repository_id(name)
        if existing is not None:
            return existing
        with self._write() as conn:
            project_id = conn.scalar(select(s.projects.c.id).where(s.projects.c.name == project))
            if project_id is None:
                return None
            self._insert_ignore(conn, s.repositories, name=name, project_id=project_id,
                                created_at=now())
            repo_id = conn.scalar(select(s.repositories.c.id).where(s.repositories.c.name == name))
        assert repo_id is not None
        return int(repo_id)

    def catalog(self, n: int, last: str | None, projects: set[str] | None = None) -> list[str]:
        """Repository names in order; only those in `projects` when it is given."""
        query = select(s.repositories.c.name).order_by(s.repositories.c.name).limit(n)
        if last:
            query = query.where(s.repositories.c.name > last)
        if projects is not None:
            query = query.join(s.projects, s.projects.c.id == s.repositories.c.project_id).where(
                s.projects.c.name.in_(sorted(projects)))
        with self._read() as conn:
            return list(conn.scalars(query))

    # -- blobs --------------------------------------------------------------------

    def blob_size_in_repository(self, repository_id: int, digest: str) -> int | None:
        query = (
            select(s.blobs.c.size)
            .join(s.repository_blobs, s.repository_blobs.c.digest == s.blobs.c.digest)
            .where(s.repository_blobs.c.repository_id == repository_id,
                   s.blobs.c.digest == digest)
        )
        with self._read() as conn:
            return conn.scalar(query)

    def blob_size_by_name(self, name: str, digest: str) -> int | None:
        """A blob's size if the named repository links it: the pull path's one query."""
        row = self._pull_row(_BLOB_SIZE, {"name": name, "digest": digest})
        return None if row is None else int(row[0])

    def manifest_by_name(self, name: str, *, tag: str | None = None,
                         digest: str | None = None) -> StoredManifest | None:
        """A manifest of the named repository by tag or digest, in one query (pull path)."""
        if tag is not None:
            row = self._pull_row(_MANIFEST_BY_TAG, {"name": name, "tag": tag})
        else:
            row = self._pull_row(_MANIFEST_BY_DIGEST, {"name": name, "digest": digest})
        return None if row is None else StoredManifest(row[0], row[1], bytes(row[2]))

    def blob_in_repository_named(self, name: str, digest: str) -> bool:
        query = (
            select(s.repository_blobs.c.digest)
            .join(s.repositories, s.repositories.c.id == s.repository_blobs.c.repository_id)
            .where(s.repositories.c.name == name, s.repository_blobs.c.digest == digest)
        )
        with self._read() as conn:
            return conn.scalar(query) is not None

    def blob_in_project(self, project: str, digest: str) -> bool:
        query = (
            select(s.repository_blobs.c.digest)
            .join(s.repositories, s.repositories.c.id == s.repository_blobs.c.repository_id)
            .join(s.projects, s.projects.c.id == s.repositories.c.project_id)
            .where(s.projects.c.name == project, s.repository_blobs.c.digest == digest)
            .limit(1)
        )
        with self._read() as conn:
            return conn.scalar(query) is not None

    def blob_size(self, digest: str) -> int | None:
        with self._read() as conn:
            return conn.scalar(select(s.blobs.c.size).where(s.blobs.c.digest == digest))

    def link_blob(self, repository_id: int, digest: str, size: int,
                  place: Callable[[], None] | None = None) -> None:
        """Record a committed blob and link it to the repository (idempotent).

        `place` puts the bytes at their content-addressed key. It runs inside the
        transaction, under the digest's lock, because garbage collection deletes bytes
        under the same lock after checking that no row names them (wharf.lifecycle.gc):
        bytes placed outside it could be deleted between placing and the row's insert.
        """
        with self._write() as conn:
            lock_digests(conn, [digest])
            if place is not None:
                place()
            self._insert_ignore(conn, s.blobs, digest=digest, size=size, created_at=now())
            self._link_fresh(conn, repository_id, digest)

    def _link_fresh(self, conn: Connection, repository_id: int, digest: str) -> None:
        # A re-upload or mount restarts the link's GC grace period: the push it belongs
        # to is in progress, and its manifest will come.
        self._upsert(conn, s.repository_blobs, ("repository_id", "digest"),
                     repository_id=repository_id, digest=digest, created_at=now())

    def link_existing_blob(self, repository_id: int, digest: str) -> int | None:
        """Link a blob the store already has; None if it has no row (nothing to mount)."""
        with self._write() as conn:
            # FOR SHARE: a concurrent GC deleting the row waits, or has deleted it.
            size = conn.scalar(select(s.blobs.c.size).where(s.blobs.c.digest == digest)
                               .with_for_update(read=True))
            if size is None:
                return None
            self._link_fresh(conn, repository_id, digest)
            return int(size)

    def unlink_blob(self, repository_id: int, digest: str) -> bool:
        with self._write() as conn:
            result = conn.execute(delete(s.repository_blobs).where(
                s.repository_blobs.c.repository_id == repository_id,
                s.repository_blobs.c.digest == digest))
            return result.rowcount > 0

    def repository_ids(self, project: str) -> list[int]:
        query = (select(s.repositories.c.id)
                 .join(s.projects, s.projects.c.id == s.repositories.c.project_id)
                 .where(s.projects.c.name == project))
        with self._read() as conn:
            return list(conn.scalars(query))

    # -- manifests ----------------------------------------------------------------

    def put_manifest(self, repository_id: int, manifest: Manifest, body: bytes,
                     tag: str | None, also: Sequence[InTransaction] = ()) -> list[str]:
        """Store and link a manifest; returns the references missing from the repository
        (and then stores nothing). `also` are writes of other capabilities (the scan
        report) that belong with the manifest: done in its transaction, or not at all."""
        digest = str(manifest.digest)
        blob_digests = {str(d.digest) for d in manifest.blobs if not d.foreign}
        child_digests = {str(d.digest) for d in manifest.children}
        with self._write() as conn:
            # FOR SHARE (PostgreSQL; SQLite's write lock already excludes writers): a
            # concurrent unlink of a referenced row waits until this manifest is in.
            present_blobs = set(conn.scalars(select(s.repository_blobs.c.digest).where(
                s.repository_blobs.c.repository_id == repository_id,
                s.repository_blobs.c.digest.in_(blob_digests))
                .with_for_update(read=True))) if blob_digests else set()
            present_children = set(conn.scalars(select(s.repository_manifests.c.digest).where(
                s.repository_manifests.c.repository_id == repository_id,
                s.repository_manifests.c.digest.in_(child_digests))
                .with_for_update(read=True))) if child_digests else set()
            missing = sorted((blob_digests - present_blobs) | (child_digests - present_children))
            if missing:
                return missing
            # FOR SHARE: GC deleting an unlinked manifest row waits for this link, or
            # has deleted the row and it is inserted again here.
            exists = conn.scalar(select(s.manifests.c.digest).where(
                s.manifests.c.digest == digest).with_for_update(read=True))
            if exists is None:
                # Ignore-on-conflict: two nodes may push the same manifest at once.
                self._insert_ignore(
                    conn, s.manifests, digest=digest, media_type=manifest.media_type,
                    artifact_type=manifest.artifact_type,
                    subject=str(manifest.subject.digest) if manifest.subject else None,
                    annotations=json.dumps(manifest.annotations) if manifest.annotations else None,
                    size=len(body), body=body, created_at=now())
                refs = [{"parent": digest, "child": c, "kind": "blob"} for c in blob_digests]
                refs += [{"parent": digest, "child": c, "kind": "manifest"} for c in child_digests]
                if refs:
                    conn.execute(self._insert(s.manifest_references).on_conflict_do_nothing(),
                                 refs)
            # A push of a manifest the repository holds counts as a new push: it restarts
            # GC's grace period for it (an index's children are pushed before the index).
            self._upsert(conn, s.repository_manifests, ("repository_id", "digest"),
                         repository_id=repository_id, digest=digest, pushed_at=now())
            if tag is not None:
                self._upsert_tag(conn, repository_id, tag, digest)
            for write in also:
                write(conn)
        return []

    def _upsert_tag(self, conn: Connection, repository_id: int, tag: str, digest: str) -> None:
        self._upsert(conn, s.tags, ("repository_id", "name"), repository_id=repository_id,
                     name=tag, digest=digest, updated_at=now())

    def imply_subject(self, digest: str, subject: str) -> None:
        """Record `subject` for a manifest that names none: cosign's tag-scheme signatures
        (`sha256-<hex>.sig`) belong to that image, so GC and the referrers listing treat
        them as its referrers."""
        with self._write() as conn:
            conn.execute(update(s.manifests).where(s.manifests.c.digest == digest,
                                                   s.manifests.c.subject.is_(None))
                         .values(subject=subject))

    def resolve_tag(self, repository_id: int, tag: str) -> str | None:
        with self._read() as conn:
            return conn.scalar(select(s.tags.c.digest).where(
                s.tags.c.repository_id == repository_id, s.tags.c.name == tag))

    def get_manifest(self, repository_id: int, digest: str) -> StoredManifest | None:
        query = (
            select(s.manifests.c.media_type, s.manifests.c.body)
            .join(s.repository_manifests, s.repository_manifests.c.digest == s.manifests.c.digest)
            .where(s.repository_manifests.c.repository_id == repository_id,
                   s.manifests.c.digest == digest)
        )
        with self._read() as conn:
            row = conn.execute(query).first()
        return None if row is None else StoredManifest(digest, row.media_type, row.body)

    def delete_manifest(self, repository_id: int, digest: str) -> bool:
        """Unlink a manifest from a repository, with every tag pointing at it."""
        with self._write() as conn:
            conn.execute(delete(s.tags).where(s.tags.c.repository_id == repository_id,
                                              s.tags.c.digest == digest))
            result = conn.execute(delete(s.repository_manifests).where(
                s.repository_manifests.c.repository_id == repository_id,
                s.repository_manifests.c.digest == digest))
            return result.rowcount > 0

    def delete_tag(self, repository_id: int, tag: str) -> bool:
        with self._write() as conn:
            result = conn.execute(delete(s.tags).where(s.tags.c.repository_id == repository_id,
                                                       s.tags.c.name == tag))
            return result.rowcount > 0

    def tag_page(self, name: str, n: int, last: str | None) -> TagPage | None:
        """Up to `n` tag names of the named repository after `last`, in one statement (a
        second only for an empty page); None when the repository does not exist."""
        params: dict[str, Any] = {"name": name, "last": last or "", "n": n,
                                  "edge": max(n - 1, 0)}
        if self.engine.dialect.name == "sqlite":
            row = _TAG_PAGE_JSON.first(self.engine, params)
            assert row is not None  # an aggregate always answers
            names_json: str = row[0]
            edge: list[str] = json.loads(row[1])
        else:
            with self._single_read() as conn:
                names = list(conn.scalars(_TAG_PAGE, {**params, "n": n + 1}))
            edge = names[n - 1:] if n > 0 else []
            names_json = json.dumps(names[:n], ensure_ascii=False, separators=(",", ":"))
        if names_json == "[]" and self.repository_id(name) is None:
            return None
        return TagPage(names_json, edge[0] if n > 0 and len(edge) == 2 else None)

    def referrers(self, repository_id: int, subject: str,
                  artifact_type: str | None) -> list[ReferrerRow]:
        m = s.manifests
        query = (
            select(m.c.digest, m.c.media_type, m.c.artifact_type, m.c.size, m.c.annotations)
            .join(s.repository_manifests, and_(
                s.repository_manifests.c.digest == m.c.digest,
                s.repository_manifests.c.repository_id == repository_id))
            .where(m.c.subject == subject)
            .order_by(m.c.digest)
        )
        if artifact_type is not None:
            query = query.where(m.c.artifact_type == artifact_type)
        with self._read() as conn:
            return [ReferrerRow(r.digest, r.media_type, r.artifact_type, r.size,
                                json.loads(r.annotations) if r.annotations else None)
                    for r in conn.execute(query)]

    def counts(self) -> dict[str, int]:
        with self._read() as conn:
            return {t.name: int(conn.scalar(select(func.count()).select_from(t)) or 0)
                    for t in (s.repositories, s.blobs, s.manifests, s.tags)}


__all__ = ["IntegrityError", "MetadataStore", "ReferrerRow", "StoredManifest", "TagPage"]
