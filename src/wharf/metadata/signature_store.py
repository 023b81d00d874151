"""The signatures feature's SQL: policies, trusted keys, signature artefacts of an image,
and signed-pull counters. SQLAlchemy Core only, portable between SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, delete, or_, select

from wharf.metadata import schema as s
from wharf.metadata.base import StoreBase
from wharf.metadata.retry import retrying
from wharf.metadata.store import now


@dataclass(frozen=True, slots=True)
class KeyRow:
    fingerprint: str
    pem: str
    kind: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SignaturePolicyRow:
    project: str
    require_signed: bool
    keys: list[KeyRow]
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class ArtifactRow:
    """A manifest in the repository that may be a signature of the image: a referrer of
    it, or the target of one of cosign's `sha256-<hex>.<suffix>` tags."""

    digest: str
    media_type: str
    artifact_type: str | None
    subject: str | None
    tag: str | None
    annotations: dict[str, str] | None
    body: bytes
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PullCountRow:
    project: str
    signed: int
    unsigned: int


@retrying
class SignatureStore(StoreBase):
    # -- projects and repositories --------------------------------------------------

    def project_id(self, name: str) -> int | None:
        with self._read() as conn:
            return conn.scalar(select(s.projects.c.id).where(s.projects.c.name == name))

    def repository_id(self, name: str) -> int | None:
        with self._read() as conn:
            return conn.scalar(select(s.repositories.c.id).where(s.repositories.c.name == name))

    def resolve_tag(self, repository: str, tag: str) -> str | None:
        query = (select(s.tags.c.digest)
                 .join(s.repositories, s.repositories.c.id == s.tags.c.repository_id)
                 .where(s.repositories.c.name == repository, s.tags.c.name == tag))
        with self._read() as conn:
            return conn.scalar(query)

    def has_manifest(self, repository: str, digest: str) -> bool:
        query = (select(s.repository_manifests.c.digest)
                 .join(s.repositories,
                       s.repositories.c.id == s.repository_manifests.c.repository_id)
                 .where(s.repositories.c.name == repository,
                        s.repository_manifests.c.digest == digest))
        with self._read() as conn:
            return conn.scalar(query) is not None

    # -- policy ---------------------------------------------------------------------

    def _keys(self, conn: Connection, project_id: int) -> list[KeyRow]:
        k = s.trusted_keys
        rows = conn.execute(select(k.c.fingerprint, k.c.pem, k.c.kind, k.c.created_at)
                            .where(k.c.project_id == project_id).order_by(k.c.created_at,
                                                                          k.c.fingerprint))
        return [KeyRow(r.fingerprint, r.pem, r.kind, r.created_at) for r in rows]

    def policy(self, project: str) -> SignaturePolicyRow | None:
        with self._read() as conn:
            project_id = conn.scalar(select(s.projects.c.id).where(s.projects.c.name == project))
            if project_id is None:
                return None
            row = conn.execute(select(s.signature_policies).where(
                s.signature_policies.c.project_id == project_id)).first()
            return SignaturePolicyRow(project, bool(row and row.require_signed),
                                      self._keys(conn, project_id),
                                      row.updated_at if row else None)

    def all_policies(self) -> list[SignaturePolicyRow]:
        """Every project that requires signatures or trusts a key (the pull path's view)."""
        p, k, sp = s.projects, s.trusted_keys, s.signature_policies
        with self._read() as conn:
            ids = set(conn.scalars(select(sp.c.project_id).where(sp.c.require_signed)))
            ids |= set(conn.scalars(select(k.c.project_id).distinct()))
            if not ids:
                return []
            names = {r.id: r.name for r in conn.execute(
                select(p.c.id, p.c.name).where(p.c.id.in_(ids)))}
            required = set(conn.scalars(select(sp.c.project_id).where(
                sp.c.require_signed, sp.c.project_id.in_(ids))))
            return [SignaturePolicyRow(names[i], i in required, self._keys(conn, i), None)
                    for i in sorted(ids) if i in names]

    def set_policy(self, project_id: int, require_signed: bool | None,
                   keys: list[tuple[str, str, str]] | None) -> None:
        """Update the policy; `keys` (fingerprint, pem, kind) replaces the trusted set when
        given. One transaction, so no node sees a policy without its keys."""
        sp = s.signature_policies
        with self._write() as conn:
            current = conn.scalar(select(sp.c.require_signed).where(sp.c.project_id == project_id))
            value = bool(current) if require_signed is None else require_signed
            stmt = self._insert(sp).values(project_id=project_id, require_signed=value,
                                           updated_at=now())
            conn.execute(stmt.on_conflict_do_update(
                index_elements=[sp.c.project_id],
                set_={"require_signed": value, "updated_at": now()}))
            if keys is not None:
                conn.execute(delete(s.trusted_keys).where(
                    s.trusted_keys.c.project_id == project_id))
                for fingerprint, pem, kind in keys:
                    self._insert_key(conn, project_id, fingerprint, pem, kind)

    def _insert_key(self, conn: Connection, project_id: int, fingerprint: str, pem: str,
                    kind: str) -> None:
        conn.execute(self._insert(s.trusted_keys).values(
            project_id=project_id, fingerprint=fingerprint, pem=pem, kind=kind,
            created_at=now()).on_conflict_do_nothing())

    def add_key(self, project_id: int, fingerprint: str, pem: str, kind: str) -> None:
        with self._write() as conn:
            self._insert_key(conn, project_id, fingerprint, pem, kind)

    def remove_key(self, project_id: int, fingerprint: str) -> bool:
        with self._write() as conn:
            return conn.execute(delete(s.trusted_keys).where(
                s.trusted_keys.c.project_id == project_id,
                s.trusted_keys.c.fingerprint == fingerprint)).rowcount > 0

    # -- signature artefacts ----------------------------------------------------------

    def artifacts(self, repository: str, digest: str, tags: list[str]) -> list[ArtifactRow]:
        """Referrers of `digest` in the repository, and the manifests `tags` (cosign's
        tag-scheme names for it) point at."""
        m, rm, t, r = s.manifests, s.repository_manifests, s.tags, s.repositories
        with self._read() as conn:
            repo_id = conn.scalar(select(r.c.id).where(r.c.name == repository))
            if repo_id is None:
                return []
            tagged = {r.digest: r.name for r in conn.execute(select(t.c.digest, t.c.name).where(
                t.c.repository_id == repo_id, t.c.name.in_(tags)))} if tags else {}
            condition = m.c.subject == digest
            if tagged:
                condition = or_(condition, m.c.digest.in_(sorted(tagged)))
            query = (select(m.c.digest, m.c.media_type, m.c.artifact_type, m.c.subject,
                            m.c.annotations, m.c.body, m.c.created_at)
                     .join(rm, and_(rm.c.digest == m.c.digest, rm.c.repository_id == repo_id))
                     .where(condition).order_by(m.c.created_at, m.c.digest))
            return [ArtifactRow(row.digest, row.media_type, row.artifact_type, row.subject,
                                tagged.get(row.digest),
                                json.loads(row.annotations) if row.annotations else None,
                                row.body, row.created_at)
                    for row in conn.execute(query)]

    def parent_indexes(self, repository: str, digest: str) -> list[str]:
        """Indexes in the repository that list `digest` as a child manifest: a signature
        on a multi-platform index covers the platform manifests pulled through it."""
        mr, rm, r = s.manifest_references, s.repository_manifests, s.repositories
        query = (select(mr.c.parent)
                 .join(rm, rm.c.digest == mr.c.parent)
                 .join(r, r.c.id == rm.c.repository_id)
                 .where(r.c.name == repository, mr.c.child == digest,
                        mr.c.kind == "manifest").order_by(mr.c.parent))
        with self._read() as conn:
            return list(conn.scalars(query))

    # -- signed-pull counters -----------------------------------------------------------

    def add_pull_counts(self, deltas: dict[str, tuple[int, int]]) -> None:
        """Add (signed, unsigned) pulls per project name, in one transaction."""
        c = s.signed_pull_counts
        with self._write() as conn:
            ids = {r.name: r.id for r in conn.execute(
                select(s.projects.c.name, s.projects.c.id).where(
                    s.projects.c.name.in_(sorted(deltas))))}
            for name, (signed, unsigned) in sorted(deltas.items()):
                project_id = ids.get(name)
                if project_id is None:
                    continue
                stmt = self._insert(c).values(project_id=project_id, signed=signed,
                                              unsigned=unsigned, updated_at=now())
                conn.execute(stmt.on_conflict_do_update(
                    index_elements=[c.c.project_id],
                    set_={"signed": c.c.signed + signed, "unsigned": c.c.unsigned + unsigned,
                          "updated_at": now()}))

    def pull_counts(self, project: str | None = None) -> list[PullCountRow]:
        c, p = s.signed_pull_counts, s.projects
        query = (select(p.c.name, c.c.signed, c.c.unsigned)
                 .join(p, p.c.id == c.c.project_id).order_by(p.c.name))
        if project is not None:
            query = query.where(p.c.name == project)
        with self._read() as conn:
            return [PullCountRow(r.name, int(r.signed), int(r.unsigned))
                    for r in conn.execute(query)]
