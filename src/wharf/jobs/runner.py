"""Runs jobs: ticks the schedules, claims jobs of the kinds it knows, executes them.

`wharf serve` runs one in-process (an asyncio task driving blocking work in a thread);
`wharf worker` runs one on its own. Any number may run against one database: claims and
schedules are atomic there. While the database is unreachable the runner logs, waits and
tries again: it recovers on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable

from anyio import to_thread

from wharf.jobs.kinds import JobKind
from wharf.jobs.queue import Job, JobQueue
from wharf.jobs.schedule import Scheduler

log = logging.getLogger("wharf.jobs")


class Runner:
    def __init__(self, queue: JobQueue, scheduler: Scheduler, kinds: dict[str, JobKind], *,
                 poll_interval: float = 1.0, batch: int = 4) -> None:
        self.queue = queue
        self.scheduler = scheduler
        self.kinds = kinds
        self.poll_interval = poll_interval
        self.batch = batch

    def run_once(self) -> int:
        """One round: tick schedules, then run what can be claimed; returns jobs run."""
        fired = self.scheduler.tick()
        if fired:
            log.debug("scheduled %s", ", ".join(fired))
        jobs = self.queue.claim(sorted(self.kinds), self.batch)
        for job in jobs:
            self.execute(job)
        return len(jobs)

    def execute(self, job: Job) -> None:
        kind = self.kinds[job.kind]
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(job, stop), daemon=True,
                                name=f"lease-{job.id}")
        beat.start()
        try:
            result = kind.run(job.payload)
        except Exception as exc:
            log.exception("job %d (%s) failed, attempt %d", job.id, job.kind, job.attempts)
            error = f"{type(exc).__name__}: {exc}"
            self._settle(job, lambda: self.queue.failed(job, error))
            return
        finally:
            stop.set()
            beat.join()
        if result:
            log.info("job %d (%s): %s", job.id, job.kind, result)
        if not self._settle(job, lambda: self.queue.done(job)):
            log.warning("job %d (%s) finished after its lease passed to another runner",
                        job.id, job.kind)

    def _settle(self, job: Job, record: Callable[[], bool]) -> bool:
        """Record a job's end, retrying while the database is away: left as `running`,
        it would hold its dedupe key (and its schedule) until the lease expired."""
        deadline = time.monotonic() + self.queue.lease.total_seconds()
        delay = 0.2
        while True:
            try:
                return record()
            except Exception as exc:
                if time.monotonic() > deadline:
                    log.warning("gave up recording the end of job %d: %s", job.id, exc)
                    return False
                log.warning("could not record the end of job %d, retrying: %s", job.id,
                            str(exc).splitlines()[0])
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _heartbeat(self, job: Job, stop: threading.Event) -> None:
        # Renew well before expiry, so a long job on a live node is never taken over.
        interval = max(self.queue.lease.total_seconds() / 3, 0.05)
        while not stop.wait(interval):
            try:
                self.queue.renew(job)
            except Exception:
                log.warning("could not renew the lease of job %d", job.id, exc_info=True)

    def _round(self) -> int:
        try:
            return self.run_once()
        except Exception as exc:
            # Typically the database is away; one line per round, the trace at debug level.
            log.warning("job runner round failed, retrying: %s", str(exc).splitlines()[0])
            log.debug("job runner round failed", exc_info=True)
            return 0

    async def run_async(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            ran = await to_thread.run_sync(self._round)
            if ran:
                continue  # more may be waiting
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll_interval)

    def run_blocking(self, stop: threading.Event,
                     on_round: Callable[[int], None] | None = None) -> None:
        while not stop.is_set():
            ran = self._round()
            if on_round is not None:
                on_round(ran)
            if not ran:
                stop.wait(self.poll_interval)
