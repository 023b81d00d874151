"""The job queue: typed jobs over the database-backed store (`metadata.job_store`).

Semantics (at-least-once): a job is claimed with a lease; if its runner dies, the lease
expires and another runner takes it. A job kind must therefore be idempotent; the kinds in
`kinds.py` derive their work from database state, so a rerun finds nothing left to do.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from wharf.metadata.job_store import JobStore
from wharf.metadata.store import now

DEFAULT_LEASE = timedelta(minutes=5)


def default_owner() -> str:
    """Who holds a lease: host and process, plus a nonce so a restarted process with a
    recycled pid is not mistaken for its predecessor."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int


class JobQueue:
    def __init__(self, store: JobStore, *, owner: str | None = None,
                 lease: timedelta = DEFAULT_LEASE) -> None:
        self.store = store
        self.owner = owner or default_owner()
        self.lease = lease

    def enqueue(self, kind: str, payload: dict[str, Any] | None = None, *,
                delay: timedelta = timedelta(0), dedupe_key: str | None = None,
                max_attempts: int = 5) -> int | None:
        """Queue a job (call after the transaction that made it necessary committed);
        None when a job with the same `dedupe_key` is already waiting or running."""
        return self.store.enqueue(kind, json.dumps(payload or {}), run_after=now() + delay,
                                  dedupe_key=dedupe_key, max_attempts=max_attempts)

    def claim(self, kinds: list[str], limit: int = 1) -> list[Job]:
        rows = self.store.claim(self.owner, kinds, limit, self.lease)
        return [Job(r.id, r.kind, json.loads(r.payload), r.attempts, r.max_attempts)
                for r in rows]

    def renew(self, job: Job) -> bool:
        return self.store.renew(job.id, self.owner, self.lease)

    def done(self, job: Job) -> bool:
        return self.store.finish(job.id, self.owner)

    def failed(self, job: Job, error: str) -> bool:
        """Record a failure; the job is retried with exponential backoff until its attempts
        are used up."""
        retry_at = None
        if job.attempts < job.max_attempts:
            retry_at = now() + min(timedelta(seconds=5 * 2 ** job.attempts), timedelta(hours=1))
        return self.store.finish(job.id, self.owner, error=error[:2000], retry_at=retry_at)

    def prune(self, older_than: timedelta) -> int:
        return self.store.prune(now() - older_than)
