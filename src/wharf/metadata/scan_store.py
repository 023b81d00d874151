"""The scanning feature's SQL: layer inventories, advisories, reports, policies, allowlist
and per-project verdicts. SQLAlchemy Core only, portable between SQLite and PostgreSQL.

Inventories and reports are stored as JSON text: they are read whole by digest, never
queried inside. Advisories are split so a manifest's packages find theirs with one indexed
query on (ecosystem, name).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, or_, select, update

from wharf.metadata import schema as s
from wharf.metadata.base import StoreBase
from wharf.metadata.retry import retrying
from wharf.metadata.store import now

_BATCH = 500


@dataclass(frozen=True, slots=True)
class AdvisoryRow:
    id: str
    aliases: list[str]
    summary: str
    severity: str
    score: float | None
    vector: str | None
    modified: str
    published: str
    source: str


@dataclass(frozen=True, slots=True)
class AffectedRow:
    advisory: AdvisoryRow
    ecosystem: str
    name: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SourceRow:
    name: str
    origin: str
    advisories: int
    imported_at: datetime


@dataclass(frozen=True, slots=True)
class PolicyRow:
    project: str
    block_on: str | None
    block_pulls: bool
    allow_unscanned: bool


@dataclass(frozen=True, slots=True)
class AllowlistRow:
    id: int
    project: str | None
    cve: str
    reason: str
    expires_at: datetime
    created_by: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class VerdictRow:
    project: str
    digest: str
    compliant: bool
    blocking: str | None
    critical_open: int


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@retrying
class ScanStore(StoreBase):
    # -- projects -----------------------------------------------------------------

    def manifest_body(self, digest: str) -> tuple[str, bytes] | None:
        with self._read() as conn:
            row = conn.execute(select(s.manifests.c.media_type, s.manifests.c.body)
                               .where(s.manifests.c.digest == digest)).first()
        return None if row is None else (row.media_type, row.body)

    def resolve(self, repository: str, reference: str) -> str | None:
        """The digest a tag (or digest) names in a repository, if it holds it."""
        r, rm, t = s.repositories, s.repository_manifests, s.tags
        with self._read() as conn:
            if reference.count(":") == 1 and not reference.startswith(":"):
                query = (select(rm.c.digest).join(r, r.c.id == rm.c.repository_id)
                         .where(r.c.name == repository, rm.c.digest == reference))
            else:
                query = (select(t.c.digest).join(r, r.c.id == t.c.repository_id)
                         .where(r.c.name == repository, t.c.name == reference))
            return conn.scalar(query)

    def project_id(self, name: str) -> int | None:
        with self._read() as conn:
            return conn.scalar(select(s.projects.c.id).where(s.projects.c.name == name))

    # -- layer inventories --------------------------------------------------------

    def layers(self, digests: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = list(dict.fromkeys(digests))
        if not wanted:
            return {}
        with self._read() as conn:
            rows = conn.execute(select(s.scan_layers.c.digest, s.scan_layers.c.inventory)
                                .where(s.scan_layers.c.digest.in_(wanted)))
            return {r.digest: json.loads(r.inventory) for r in rows}

    def indexed_layers(self, digests: Iterable[str]) -> set[str]:
        wanted = list(dict.fromkeys(digests))
        if not wanted:
            return set()
        with self._read() as conn:
            return set(conn.scalars(select(s.scan_layers.c.digest)
                                    .where(s.scan_layers.c.digest.in_(wanted))))

    def put_layer(self, digest: str, inventory: dict[str, Any]) -> None:
        self.put_layers({digest: inventory})

    def put_layers(self, inventories: dict[str, dict[str, Any]]) -> None:
        if inventories:
            with self._write() as conn:
                self.layers_writer(inventories)(conn)

    def layers_writer(self, inventories: dict[str, dict[str, Any]]
                      ) -> Callable[[Connection], None]:
        """`put_layers` as a write for someone else's transaction (the manifest PUT's)."""

        def write(conn: Connection) -> None:
            for digest, inventory in inventories.items():
                self._upsert(conn, s.scan_layers, ["digest"], digest=digest,
                             status=inventory["status"], reason=inventory.get("reason"),
                             inventory=json.dumps(inventory, separators=(",", ":")),
                             package_count=len(inventory.get("packages", [])),
                             indexed_at=now())

        return write

    # -- advisories ---------------------------------------------------------------

    def replace_source(self, name: str, origin: str,
                       advisories: Iterable[tuple[dict[str, Any], list[dict[str, Any]]]]) -> int:
        """Replace everything a source contributed with `advisories` (each a row for
        vuln_advisories and its vuln_affected rows), in one transaction."""
        count = 0
        with self._write() as conn:
            old = select(s.vuln_advisories.c.id).where(s.vuln_advisories.c.source == name)
            conn.execute(delete(s.vuln_affected).where(s.vuln_affected.c.advisory_id.in_(old)))
            conn.execute(delete(s.vuln_advisories).where(s.vuln_advisories.c.source == name))
            batch: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
            for item in advisories:
                batch.append(item)
                if len(batch) >= _BATCH:
                    count += self._insert_advisories(conn, batch, name)
                    batch = []
            if batch:
                count += self._insert_advisories(conn, batch, name)
            self._upsert(conn, s.vuln_sources, ["name"], name=name, origin=origin,
                         advisories=count, imported_at=now())
        return count

    def _insert_advisories(self, conn: Connection,
                           batch: list[tuple[dict[str, Any], list[dict[str, Any]]]],
                           source: str) -> int:
        # The same advisory can arrive from two sources (an all-ecosystems archive and a
        # per-ecosystem one): the newer import owns it.
        ids = [row["id"] for row, _ in batch]
        conn.execute(delete(s.vuln_affected).where(s.vuln_affected.c.advisory_id.in_(ids)))
        conn.execute(delete(s.vuln_advisories).where(s.vuln_advisories.c.id.in_(ids)))
        unique: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
        for row, affected in batch:
            unique[row["id"]] = ({**row, "source": source}, affected)
        conn.execute(s.vuln_advisories.insert(), [row for row, _ in unique.values()])
        affected_rows = [a for _, rows in unique.values() for a in rows]
        if affected_rows:
            conn.execute(s.vuln_affected.insert(), affected_rows)
        return len(unique)

    def affected_for(self, packages: set[tuple[str, str]]) -> list[AffectedRow]:
        """Advisory entries for these (ecosystem, name) pairs."""
        if not packages:
            return []
        a, f = s.vuln_advisories, s.vuln_affected
        # Two plain IN lists use the (ecosystem, name) index on every database; the few
        # pairs that match only crosswise are dropped below.
        query = (select(a, f.c.ecosystem, f.c.name.label("package"), f.c.data)
                 .join(f, f.c.advisory_id == a.c.id)
                 .where(f.c.ecosystem.in_(sorted({e for e, _ in packages})),
                        f.c.name.in_(sorted({n for _, n in packages}))))
        with self._read() as conn:
            return [AffectedRow(_advisory(r), r.ecosystem, r.package, json.loads(r.data))
                    for r in conn.execute(query) if (r.ecosystem, r.package) in packages]

    def vulndb_generation(self) -> tuple[int, datetime | None]:
        """Changes whenever an import changes the advisory database."""
        v = s.vuln_sources
        with self._read() as conn:
            row = conn.execute(select(func.count(), func.max(v.c.imported_at))).first()
        return (0, None) if row is None else (int(row[0]), row[1])

    def replace_source_origin(self, name: str, origin: str) -> None:
        with self._write() as conn:
            conn.execute(update(s.vuln_sources).where(s.vuln_sources.c.name == name)
                         .values(origin=origin))

    def advisory_count(self) -> int:
        with self._read() as conn:
            return int(conn.scalar(select(func.count()).select_from(s.vuln_advisories)) or 0)

    def sources(self) -> list[SourceRow]:
        with self._read() as conn:
            return [SourceRow(r.name, r.origin, r.advisories, _utc(r.imported_at))
                    for r in conn.execute(select(s.vuln_sources).order_by(s.vuln_sources.c.name))]

    # -- reports ------------------------------------------------------------------

    def put_report(self, digest: str, status: str, reason: str | None,
                   report: dict[str, Any], critical: int, *,
                   verdicts: list[tuple[int, str, bool, str | None, int]] | None = None) -> None:
        """Store a report, and the verdicts on it in the same transaction."""
        with self._write() as conn:
            self.report_writer(digest, status, reason, report, critical,
                               verdicts=verdicts)(conn)

    def report_writer(self, digest: str, status: str, reason: str | None,
                      report: dict[str, Any], critical: int, *,
                      verdicts: list[tuple[int, str, bool, str | None, int]] | None = None,
                      layers: dict[str, dict[str, Any]] | None = None
                      ) -> Callable[[Connection], None]:
        """`put_report` (and `put_layers` of the layers indexed for it) as a write for
        someone else's transaction (the manifest PUT's)."""
        text = json.dumps(report, separators=(",", ":"))
        write_layers = self.layers_writer(layers or {})

        def write(conn: Connection) -> None:
            write_layers(conn)
            self._upsert(conn, s.scan_reports, ["digest"], digest=digest, status=status,
                         reason=reason, report=text, critical=critical, scanned_at=now())
            self._put_verdicts(conn, verdicts or [])

        return write

    def report(self, digest: str) -> dict[str, Any] | None:
        with self._read() as conn:
            text = conn.scalar(select(s.scan_reports.c.report)
                               .where(s.scan_reports.c.digest == digest))
        return None if text is None else dict(json.loads(text))

    def reported_digests(self) -> list[str]:
        with self._read() as conn:
            return list(conn.scalars(select(s.scan_reports.c.digest)))

    # -- what the registry holds --------------------------------------------------

    def project_manifests(self, project_id: int | None = None) -> list[tuple[int, str, str]]:
        """(project id, project name, manifest digest) for stored manifests with a report."""
        r, rm, p = s.repositories, s.repository_manifests, s.projects
        query = (select(p.c.id, p.c.name, rm.c.digest).distinct()
                 .join(r, r.c.project_id == p.c.id)
                 .join(rm, rm.c.repository_id == r.c.id)
                 .join(s.scan_reports, s.scan_reports.c.digest == rm.c.digest))
        if project_id is not None:
            query = query.where(p.c.id == project_id)
        with self._read() as conn:
            return [(row[0], row[1], row[2]) for row in conn.execute(query)]

    # -- policies -----------------------------------------------------------------

    def policy(self, project: str) -> PolicyRow | None:
        query = (select(s.scan_policies).join(s.projects,
                                              s.projects.c.id == s.scan_policies.c.project_id)
                 .where(s.projects.c.name == project))
        with self._read() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return PolicyRow(project, row.block_on, bool(row.block_pulls), bool(row.allow_unscanned))

    def set_policy(self, project_id: int, block_on: str | None, block_pulls: bool,
                   allow_unscanned: bool) -> None:
        with self._write() as conn:
            self._upsert(conn, s.scan_policies, ["project_id"], project_id=project_id,
                         block_on=block_on, block_pulls=block_pulls,
                         allow_unscanned=allow_unscanned, updated_at=now())

    def projects_blocking_pulls(self) -> set[str]:
        query = (select(s.projects.c.name)
                 .join(s.scan_policies, s.projects.c.id == s.scan_policies.c.project_id)
                 .where(s.scan_policies.c.block_pulls.is_(True)))
        with self._read() as conn:
            return set(conn.scalars(query))

    # -- allowlist ----------------------------------------------------------------

    def add_allowlist(self, project_id: int | None, cve: str, reason: str,
                      expires_at: datetime, created_by: str | None) -> int:
        """Add an entry; one for the same CVE and scope is replaced (renewal is a new
        review, with its own reason and expiry)."""
        a = s.scan_allowlist
        scope = a.c.project_id.is_(None) if project_id is None else a.c.project_id == project_id
        with self._write() as conn:
            conn.execute(delete(a).where(scope, a.c.cve == cve))
            result = conn.execute(a.insert().values(
                project_id=project_id, cve=cve, reason=reason, expires_at=expires_at,
                created_by=created_by, created_at=now()))
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def allowlist(self, project_id: int | None, *, include_global: bool) -> list[AllowlistRow]:
        a, p = s.scan_allowlist, s.projects
        query = select(a, p.c.name.label("project")).outerjoin(p, p.c.id == a.c.project_id)
        if project_id is None:
            query = query.where(a.c.project_id.is_(None))
        elif include_global:
            query = query.where(or_(a.c.project_id == project_id, a.c.project_id.is_(None)))
        else:
            query = query.where(a.c.project_id == project_id)
        with self._read() as conn:
            return [AllowlistRow(r.id, r.project, r.cve, r.reason, _utc(r.expires_at),
                                 r.created_by, _utc(r.created_at))
                    for r in conn.execute(query.order_by(a.c.id))]

    def allowlist_entry(self, entry_id: int) -> AllowlistRow | None:
        a, p = s.scan_allowlist, s.projects
        query = (select(a, p.c.name.label("project")).outerjoin(p, p.c.id == a.c.project_id)
                 .where(a.c.id == entry_id))
        with self._read() as conn:
            r = conn.execute(query).first()
        return None if r is None else AllowlistRow(r.id, r.project, r.cve, r.reason,
                                                   _utc(r.expires_at), r.created_by,
                                                   _utc(r.created_at))

    def remove_allowlist(self, entry_id: int) -> bool:
        with self._write() as conn:
            result = conn.execute(delete(s.scan_allowlist)
                                  .where(s.scan_allowlist.c.id == entry_id))
            return result.rowcount > 0

    # -- verdicts -----------------------------------------------------------------

    def put_verdicts(self, verdicts: list[tuple[int, str, bool, str | None, int]]) -> None:
        """(project id, digest, compliant, blocking, critical_open) rows, upserted."""
        if not verdicts:
            return
        with self._write() as conn:
            self._put_verdicts(conn, verdicts)

    def _put_verdicts(self, conn: Connection,
                      verdicts: list[tuple[int, str, bool, str | None, int]]) -> None:
        for project_id, digest, compliant, blocking, critical in verdicts:
            self._upsert(conn, s.scan_verdicts, ["project_id", "digest"],
                         project_id=project_id, digest=digest, compliant=compliant,
                         blocking=blocking, critical_open=critical, evaluated_at=now())

    def verdict(self, project: str, digest: str) -> VerdictRow | None:
        v = s.scan_verdicts
        query = (select(v).join(s.projects, s.projects.c.id == v.c.project_id)
                 .where(and_(s.projects.c.name == project, v.c.digest == digest)))
        with self._read() as conn:
            r = conn.execute(query).first()
        return None if r is None else VerdictRow(project, r.digest, bool(r.compliant),
                                                 r.blocking, r.critical_open)

    def critical_findings(self, project_id: int | None = None) -> int:
        """Open CRITICAL findings over every stored image (per project when given)."""
        v = s.scan_verdicts
        query = select(func.coalesce(func.sum(v.c.critical_open), 0))
        if project_id is not None:
            query = query.where(v.c.project_id == project_id)
        with self._read() as conn:
            return int(conn.scalar(query) or 0)


def _advisory(r: Any) -> AdvisoryRow:
    return AdvisoryRow(r.id, json.loads(r.aliases), r.summary, r.severity, r.score, r.vector,
                       r.modified, r.published, r.source)
