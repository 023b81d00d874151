"""The lifecycle capability: retention policies, retention runs, GC runs, reports.

Callers (the management API, job kinds) check who may do what; this service knows only
projects and repositories by name.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from wharf import errors
from wharf.errors import RegistryError
from wharf.lifecycle.gc import GarbageCollector, GcSummary, throttled
from wharf.lifecycle.reports import ImageRow, StorageReport, list_images, storage_report
from wharf.lifecycle.retention import (
    RepositoryPlan,
    RetentionPolicy,
    parse_globs,
    plan_repository,
)
from wharf.metadata.lifecycle_store import GcRunRow, LifecycleStore, PolicyRow, RepositoryRow
from wharf.metadata.store import now
from wharf.oci.names import is_valid_name

log = logging.getLogger("wharf.lifecycle")

# A run whose worker has not reported for this long was killed (workers report every ~1 s).
STALE_RUN = timedelta(minutes=2)


def _unknown(kind: str, name: str) -> RegistryError:
    return RegistryError(errors.RESOURCE_UNKNOWN, {kind: name}, f"{kind} {name!r} not found")


def _invalid(reason: str) -> RegistryError:
    return RegistryError(errors.INVALID_REQUEST, {"reason": reason}, f"invalid request: {reason}")


def policy_of(row: PolicyRow) -> RetentionPolicy:
    after = row.delete_untagged_after_seconds
    return RetentionPolicy(row.keep_last, parse_globs(row.keep_tagged),
                           None if after is None else timedelta(seconds=after))


@dataclass
class RetentionResult:
    project: str
    dry_run: bool
    # (repository, tag, digest)
    tags: list[dict[str, str]] = field(default_factory=list)
    # (repository, digest)
    manifests: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class LifecycleService:
    def __init__(self, store: LifecycleStore, collector: GarbageCollector, *,
                 grace: timedelta = timedelta(hours=24),
                 enqueue: Callable[[int], None] | None = None) -> None:
        self.store = store
        self.collector = collector
        self.grace = grace
        # Hands a requested run to the job queue; without one it runs in the caller.
        self.enqueue = enqueue

    def _project_id(self, project: str) -> int:
        project_id = self.store.project_id(project)
        if project_id is None:
            raise _unknown("project", project)
        return project_id

    # -- policies -------------------------------------------------------------------

    def get_policy(self, project: str) -> PolicyRow | None:
        self._project_id(project)
        return self.store.get_policy(project)

    def set_policy(self, project: str, *, keep_last: int | None, keep_tagged: str | None,
                   delete_untagged_older_than: timedelta | None,
                   actor: str | None) -> PolicyRow:
        project_id = self._project_id(project)
        if keep_last is not None and keep_last < 0:
            raise _invalid("keep_last must be 0 or more")
        if delete_untagged_older_than is not None and delete_untagged_older_than < timedelta(0):
            raise _invalid("delete_untagged_older_than must not be negative")
        globs = ",".join(parse_globs(keep_tagged)) or None
        after = (None if delete_untagged_older_than is None
                 else int(delete_untagged_older_than.total_seconds()))
        self.store.put_policy(project_id, keep_last, globs, after, actor)
        row = self.store.get_policy(project)
        assert row is not None
        return row

    def clear_policy(self, project: str) -> bool:
        return self.store.delete_policy(self._project_id(project))

    # -- retention -------------------------------------------------------------------

    def plan_retention(self, project: str, moment: datetime | None = None,
                       policy: RetentionPolicy | None = None) -> list[RepositoryPlan]:
        """The one planner: the dry run shows it, the real run applies it."""
        self._project_id(project)
        if policy is None:
            row = self.store.get_policy(project)
            if row is None:
                raise RegistryError(errors.CONFLICT, {"project": project},
                                    f"project {project!r} has no retention policy")
            policy = policy_of(row)
        moment = moment or now()
        return [plan_repository(self.store.graph(repo), policy, moment)
                for repo in self.store.repositories(project)]

    def run_retention(self, project: str, *, dry_run: bool = False) -> RetentionResult:
        plans = self.plan_retention(project)
        result = RetentionResult(project, dry_run)
        for plan in plans:
            tags, manifests = plan.tags, plan.manifests
            if not dry_run and not plan.empty:
                tags, manifests = self.store.apply_retention(plan.repository_id, plan.tags,
                                                             plan.manifests)
            result.tags += [{"repository": plan.repository, "tag": t, "digest": d}
                            for t, d in tags]
            result.manifests += [{"repository": plan.repository, "digest": d}
                                 for d in manifests]
        if not dry_run:
            self.store.record_retention_run(self._project_id(project), json.dumps(
                {"tags": len(result.tags), "manifests": len(result.manifests)}))
            log.info("retention %s: removed %d tags, %d manifests", project,
                     len(result.tags), len(result.manifests))
        return result

    def run_all_retention(self) -> dict[str, int]:
        """The scheduled run: every project that has a policy."""
        done: dict[str, int] = {}
        for row in self.store.list_policies():
            result = self.run_retention(row.project)
            done[row.project] = len(result.tags) + len(result.manifests)
        return done

    # -- garbage collection ----------------------------------------------------------

    def request_gc(self, project: str | None, grace: timedelta | None, dry_run: bool,
                   actor: str | None) -> GcRunRow:
        if project is not None:
            self._project_id(project)
        if grace is not None and grace < timedelta(0):
            raise _invalid("grace must not be negative")
        seconds = int((self.grace if grace is None else grace).total_seconds())
        run_id = self.store.create_run(project, dry_run, seconds, actor)
        if self.enqueue is not None:
            self.enqueue(run_id)
        else:
            self.execute_gc(run_id)
        return self.gc_run(run_id)

    def execute_gc(self, run_id: int) -> GcSummary | None:
        """Run a requested GC (the `gc.run` job). A rerun of a finished run (the job was
        retried after its node died) does nothing."""
        self.store.mark_interrupted(now() - STALE_RUN)
        run = self.store.get_run(run_id)
        if run is None or run.status in ("done", "failed"):
            return None
        self.store.update_run(run_id, status="running", started_at=now(), phase="starting")

        def progress(phase: str, summary: GcSummary) -> None:
            self.store.update_run(run_id, phase=phase, summary=json.dumps(_counts(summary)))

        try:
            summary = self.collector.run(project=run.project,
                                         grace=timedelta(seconds=run.grace_seconds),
                                         dry_run=run.dry_run, progress=throttled(progress))
        except Exception as exc:
            self.store.update_run(run_id, status="failed", finished_at=now(),
                                  error=f"{type(exc).__name__}: {exc}"[:2000])
            raise
        self.store.update_run(run_id, status="done", phase="done", finished_at=now(),
                              summary=json.dumps(summary.as_dict()))
        log.info("gc run %d (%s): %s", run_id, run.project or "all projects", _counts(summary))
        return summary

    def scheduled_gc(self) -> GcSummary | None:
        """The periodic whole-registry run, with the configured grace period."""
        run_id = self.store.create_run(None, False, int(self.grace.total_seconds()), "schedule")
        return self.execute_gc(run_id)

    def gc_run(self, run_id: int) -> GcRunRow:
        run = self.store.get_run(run_id)
        if run is None:
            raise _unknown("gc run", str(run_id))
        return run

    def gc_runs(self, project: str | None = None, limit: int = 20) -> list[GcRunRow]:
        return self.store.list_runs(project, limit)

    # -- reports ---------------------------------------------------------------------

    def _repositories(self, project: str | None, repository: str | None) -> list[RepositoryRow]:
        if repository is not None:
            if not is_valid_name(repository):
                raise RegistryError(errors.NAME_INVALID, {"name": repository[:300]})
            repos = self.store.repositories(name=repository)
            if not repos:
                raise RegistryError(errors.NAME_UNKNOWN, {"name": repository})
            return repos
        if project is None:
            raise _invalid("give a project or a repository")
        self._project_id(project)
        return self.store.repositories(project)

    def list_images(self, *, project: str | None = None, repository: str | None = None,
                    untagged_only: bool = False,
                    older_than: timedelta | None = None) -> list[ImageRow]:
        graphs = [self.store.graph(r) for r in self._repositories(project, repository)]
        before = None if older_than is None else now() - older_than
        return list_images(graphs, untagged_only=untagged_only, pushed_before=before)

    def storage_report(self, project: str) -> StorageReport:
        graphs = [self.store.graph(r) for r in self._repositories(project, None)]
        digests = sorted({d for g in graphs for d in g.blobs})
        return storage_report(project, graphs,
                              self.store.blobs_linked_elsewhere(project, digests))


def _counts(summary: GcSummary) -> dict[str, Any]:
    data = summary.as_dict()
    data.pop("detail", None)
    return data
