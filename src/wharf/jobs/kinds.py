"""Job kinds: a name and `run(payload)` calling one service. Kinds must be idempotent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from wharf.jobs.queue import JobQueue
from wharf.jobs.schedule import Periodic
from wharf.lifecycle.service import LifecycleService
from wharf.registry.service import RegistryService
from wharf.scanning.service import ScanService

PURGE_UPLOADS = "uploads.purge"
ABORT_MULTIPART = "storage.abort_multipart"
PRUNE_JOBS = "jobs.prune"
SCAN_INDEX_LAYER = "scan.index_layer"
GC_RUN = "gc.run"
GC_SCHEDULED = "gc.scheduled"
RETENTION_SCHEDULED = "retention.scheduled"


@dataclass(frozen=True, slots=True)
class JobKind:
    name: str
    run: Callable[[dict[str, Any]], object]


@dataclass(frozen=True, slots=True)
class Intervals:
    purge_uploads: timedelta
    abort_multipart: timedelta
    # Unfinished multipart uploads no open key names are aborted after this long; it must
    # exceed the longest single upload request.
    multipart_grace: timedelta
    keep_finished_jobs: timedelta = timedelta(days=7)


def registry_kinds(registry: RegistryService, queue: JobQueue,
                   intervals: Intervals) -> dict[str, JobKind]:
    grace = intervals.multipart_grace.total_seconds()
    kinds = [
        JobKind(PURGE_UPLOADS, lambda _p: registry.purge_stale_uploads()),
        JobKind(ABORT_MULTIPART, lambda _p: registry.abort_abandoned_multipart(grace)),
        JobKind(PRUNE_JOBS, lambda _p: queue.prune(intervals.keep_finished_jobs)),
    ]
    return {k.name: k for k in kinds}


def scanning_kinds(scanning: ScanService) -> dict[str, JobKind]:
    # Idempotent: a layer already indexed (at PUT, or by another node) is skipped.
    kind = JobKind(SCAN_INDEX_LAYER, lambda p: scanning.index_if_layer(str(p["digest"])))
    return {kind.name: kind}


def registry_periodics(intervals: Intervals, *, multipart: bool) -> list[Periodic]:
    periodics = [
        Periodic(PURGE_UPLOADS, PURGE_UPLOADS, intervals.purge_uploads),
        Periodic(PRUNE_JOBS, PRUNE_JOBS, timedelta(hours=1)),
    ]
    if multipart:
        periodics.append(Periodic(ABORT_MULTIPART, ABORT_MULTIPART, intervals.abort_multipart))
    return periodics


def lifecycle_kinds(lifecycle: LifecycleService) -> dict[str, JobKind]:
    # Idempotent: a finished GC run is not run again; retention and scheduled GC derive
    # their work from the database, so a rerun finds nothing left to remove.
    kinds = [
        JobKind(GC_RUN, lambda p: lifecycle.execute_gc(int(p["run_id"]))),
        JobKind(GC_SCHEDULED, lambda _p: lifecycle.scheduled_gc()),
        JobKind(RETENTION_SCHEDULED, lambda _p: lifecycle.run_all_retention()),
    ]
    return {k.name: k for k in kinds}


def lifecycle_periodics(gc_interval: timedelta, retention_interval: timedelta) -> list[Periodic]:
    periodics = []
    if retention_interval > timedelta(0):
        periodics.append(Periodic(RETENTION_SCHEDULED, RETENTION_SCHEDULED, retention_interval))
    if gc_interval > timedelta(0):
        periodics.append(Periodic(GC_SCHEDULED, GC_SCHEDULED, gc_interval, max_attempts=1))
    return periodics
