"""The job queue's SQL: enqueue, claim with a lease, finish, and periodic schedules.

Claiming is one write transaction: on PostgreSQL the candidate rows are locked with
`SELECT … FOR UPDATE SKIP LOCKED`, so concurrent claimers take different jobs without
waiting on each other; on SQLite the transaction starts with BEGIN IMMEDIATE (the store's
write lock), which serialises claimers, and the same statement runs without the clause
(SQLAlchemy renders FOR UPDATE only where the dialect has it).

A claimed job carries `lease_owner` and `lease_expires_at`. A job whose lease expired is
claimable again, so the work of a node that died is picked up by another; finishing
checks the owner, so a node that lost its lease cannot overwrite the new owner's result.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, delete, func, or_, select, update

from wharf.metadata import schema as s
from wharf.metadata.base import StoreBase
from wharf.metadata.retry import retrying
from wharf.metadata.store import now


@dataclass(frozen=True, slots=True)
class JobRow:
    id: int
    kind: str
    payload: str
    attempts: int
    max_attempts: int


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    name: str
    kind: str
    interval_seconds: int
    next_run_at: datetime
    last_run_at: datetime | None
    last_owner: str | None


@retrying
class JobStore(StoreBase):
    def _add(self, conn: Connection, kind: str, payload: str, *, run_after: datetime,
             dedupe_key: str | None, max_attempts: int) -> int | None:
        stamp = now()
        stmt = self._insert(s.jobs).values(
            kind=kind, payload=payload, status="queued", attempts=0,
            max_attempts=max_attempts, run_after=run_after, dedupe_key=dedupe_key,
            created_at=stamp, updated_at=stamp).on_conflict_do_nothing()
        result = conn.execute(stmt.returning(s.jobs.c.id))
        return result.scalar()

    def enqueue(self, kind: str, payload: str, *, run_after: datetime | None = None,
                dedupe_key: str | None = None, max_attempts: int = 5) -> int | None:
        """Add a job; None when one with the same `dedupe_key` exists."""
        with self._write() as conn:
            return self._add(conn, kind, payload, run_after=run_after or now(),
                             dedupe_key=dedupe_key, max_attempts=max_attempts)

    def claim(self, owner: str, kinds: list[str], limit: int, lease: timedelta) -> list[JobRow]:
        j = s.jobs
        stamp = now()
        claimable = or_(and_(j.c.status == "queued", j.c.run_after <= stamp),
                        and_(j.c.status == "running", j.c.lease_expires_at < stamp))
        with self._write() as conn:
            ids = list(conn.scalars(
                select(j.c.id).where(claimable, j.c.kind.in_(kinds))
                .order_by(j.c.run_after, j.c.id).limit(limit)
                .with_for_update(skip_locked=True)))
            if not ids:
                return []
            conn.execute(update(j).where(j.c.id.in_(ids)).values(
                status="running", lease_owner=owner, lease_expires_at=stamp + lease,
                attempts=j.c.attempts + 1, updated_at=stamp))
            # A job that keeps losing its lease (it kills or hangs its node) stops here.
            conn.execute(update(j).where(j.c.id.in_(ids), j.c.attempts > j.c.max_attempts)
                         .values(status="failed", lease_owner=None, lease_expires_at=None,
                                 last_error="lease expired too often", updated_at=stamp))
            rows = conn.execute(select(j).where(j.c.id.in_(ids), j.c.status == "running")
                                .order_by(j.c.run_after, j.c.id))
            return [JobRow(r.id, r.kind, r.payload, r.attempts, r.max_attempts) for r in rows]

    def renew(self, job_id: int, owner: str, lease: timedelta) -> bool:
        j = s.jobs
        with self._write() as conn:
            result = conn.execute(update(j).where(
                j.c.id == job_id, j.c.lease_owner == owner, j.c.status == "running")
                .values(lease_expires_at=now() + lease))
            return result.rowcount > 0

    def finish(self, job_id: int, owner: str, *, error: str | None = None,
               retry_at: datetime | None = None) -> bool:
        """Mark a job done (no error), queued again (`retry_at`), or failed."""
        j = s.jobs
        status = "done" if error is None else ("queued" if retry_at else "failed")
        values: dict[str, object] = {"status": status, "lease_owner": None,
                                     "lease_expires_at": None, "last_error": error,
                                     "updated_at": now()}
        if retry_at is not None:
            values["run_after"] = retry_at
        if status != "queued":
            # A finished job's dedupe key is free again for the next run of the same work.
            values["dedupe_key"] = None
        with self._write() as conn:
            result = conn.execute(update(j).where(
                j.c.id == job_id, j.c.lease_owner == owner, j.c.status == "running")
                .values(**values))
            return result.rowcount > 0

    def prune(self, before: datetime) -> int:
        """Forget finished jobs last updated before `before`."""
        j = s.jobs
        with self._write() as conn:
            result = conn.execute(delete(j).where(j.c.status.in_(["done", "failed"]),
                                                  j.c.updated_at < before))
            return result.rowcount

    def job_status(self, job_id: int) -> tuple[str, int, str | None] | None:
        j = s.jobs
        with self.engine.connect() as conn:
            row = conn.execute(select(j.c.status, j.c.attempts, j.c.last_error)
                               .where(j.c.id == job_id)).first()
        return None if row is None else (row.status, row.attempts, row.last_error)

    def count_jobs(self, kind: str, status: str | None = None) -> int:
        j = s.jobs
        query = select(func.count()).select_from(j).where(j.c.kind == kind)
        if status is not None:
            query = query.where(j.c.status == status)
        with self.engine.connect() as conn:
            return int(conn.scalar(query) or 0)

    # -- schedules ------------------------------------------------------------------

    def ensure_schedule(self, name: str, kind: str, interval: timedelta) -> None:
        """Create the schedule (first run due now) or adopt a changed interval."""
        sc = s.schedules
        seconds = max(1, int(interval.total_seconds()))
        with self._write() as conn:
            conn.execute(self._insert(sc).values(
                name=name, kind=kind, interval_seconds=seconds, next_run_at=now())
                .on_conflict_do_nothing())
            conn.execute(update(sc).where(sc.c.name == name,
                                          sc.c.interval_seconds != seconds)
                         .values(interval_seconds=seconds, kind=kind))

    def due_schedules(self) -> set[str]:
        """Names of the schedules due now: a read, so an idle tick takes no write lock."""
        sc = s.schedules
        with self._single_read() as conn:
            return set(conn.scalars(select(sc.c.name).where(sc.c.next_run_at <= now())))

    def fire_due(self, name: str, owner: str, payload: str, max_attempts: int) -> int | None:
        """If the schedule is due, move it to its next time and enqueue its job in the same
        transaction; the conditional UPDATE lets exactly one node win each run."""
        sc = s.schedules
        stamp = now()
        with self._write() as conn:
            row = conn.execute(select(sc.c.kind, sc.c.interval_seconds, sc.c.next_run_at)
                               .where(sc.c.name == name)).first()
            if row is None:
                return None
            won = conn.execute(update(sc).where(sc.c.name == name, sc.c.next_run_at <= stamp)
                               .values(next_run_at=stamp + timedelta(seconds=row.interval_seconds),
                                       last_run_at=stamp, last_owner=owner))
            if won.rowcount != 1:
                return None
            # The dedupe key keeps runs of one schedule from piling up behind a slow one.
            return self._add(conn, row.kind, payload, run_after=stamp,
                             dedupe_key=f"schedule:{name}", max_attempts=max_attempts)

    def schedule(self, name: str) -> ScheduleRow | None:
        sc = s.schedules
        with self.engine.connect() as conn:
            row = conn.execute(select(sc).where(sc.c.name == name)).first()
        return None if row is None else ScheduleRow(row.name, row.kind, row.interval_seconds,
                                                    row.next_run_at, row.last_run_at,
                                                    row.last_owner)

    def next_due(self) -> datetime | None:
        with self.engine.connect() as conn:
            due: datetime | None = conn.scalar(select(func.min(s.schedules.c.next_run_at)))
        return due
