"""The job queue and schedules, over SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from wharf.jobs import runner as runner_module
from wharf.jobs.kinds import JobKind
from wharf.jobs.queue import Job, JobQueue
from wharf.jobs.runner import Runner
from wharf.jobs.schedule import Periodic, Scheduler
from wharf.metadata.engine import make_engine
from wharf.metadata.job_store import JobStore


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def queue(engine: Engine, owner: str, lease: float = 60) -> JobQueue:
    return JobQueue(JobStore(engine), owner=owner, lease=timedelta(seconds=lease))


def test_enqueue_claim_done(engine: Engine) -> None:
    q = queue(engine, "a")
    job_id = q.enqueue("k", {"x": 1})
    assert job_id is not None
    assert q.claim(["other"]) == []
    [job] = q.claim(["k"])
    assert (job.id, job.payload, job.attempts) == (job_id, {"x": 1}, 1)
    assert q.claim(["k"]) == []  # leased
    assert q.done(job)
    assert q.store.job_status(job_id) == ("done", 1, None)


def test_concurrent_claimers_take_each_job_once(engine: Engine) -> None:
    q = queue(engine, "seed")
    ids = {q.enqueue("k", {"n": n}) for n in range(60)}
    taken: list[int] = []
    lock = threading.Lock()

    def claimer(owner: str) -> None:
        mine = queue(engine, owner)
        while jobs := mine.claim(["k"], limit=3):
            with lock:
                taken.extend(j.id for j in jobs)
            for j in jobs:
                assert mine.done(j)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken) == sorted(i for i in ids if i is not None)


def test_expired_lease_is_taken_over(engine: Engine) -> None:
    dead = queue(engine, "dead", lease=0.2)
    alive = queue(engine, "alive")
    job_id = dead.enqueue("k")
    [lost] = dead.claim(["k"])
    assert alive.claim(["k"]) == []
    time.sleep(0.4)
    [job] = alive.claim(["k"])
    assert (job.id, job.attempts) == (job_id, 2)
    assert not dead.done(lost)  # the lease moved on; the late finisher changes nothing
    assert alive.done(job)


def test_failure_is_retried_with_backoff_then_gives_up(engine: Engine) -> None:
    q = queue(engine, "a")
    job_id = q.enqueue("k", max_attempts=2)
    assert job_id is not None
    [job] = q.claim(["k"])
    assert q.failed(job, "boom")
    status = q.store.job_status(job_id)
    assert status is not None
    assert status[0] == "queued"
    assert q.claim(["k"]) == []  # not before its backoff


def test_dedupe_key_holds_while_waiting(engine: Engine) -> None:
    q = queue(engine, "a")
    first = q.enqueue("k", dedupe_key="same")
    assert first is not None
    assert q.enqueue("k", dedupe_key="same") is None
    [job] = q.claim(["k"])
    q.done(job)
    assert q.enqueue("k", dedupe_key="same") is not None


def test_schedule_fires_once_across_nodes(engine: Engine) -> None:
    periodic = [Periodic("tick", "k", timedelta(hours=1))]
    store = JobStore(engine)
    fired: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(5)

    def node(owner: str) -> None:
        scheduler = Scheduler(store, owner, periodic)
        barrier.wait()
        for _ in range(3):
            names = scheduler.tick()
            with lock:
                fired.extend(names)

    threads = [threading.Thread(target=node, args=(f"n{i}",)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert fired == ["tick"]
    assert store.count_jobs("k") == 1
    row = store.schedule("tick")
    assert row is not None
    assert row.last_owner is not None


def test_runner_runs_jobs_and_records_failures(engine: Engine) -> None:
    q = queue(engine, "r")
    seen: list[dict[str, Any]] = []

    def boom(_payload: dict[str, Any]) -> None:
        raise RuntimeError("nope")

    kinds = {"ok": JobKind("ok", seen.append), "bad": JobKind("bad", boom)}
    runner = Runner(q, Scheduler(q.store, q.owner, [Periodic("p", "ok", timedelta(hours=1),
                                                             {"from": "schedule"})]), kinds)
    q.enqueue("ok", {"n": 1})
    bad = q.enqueue("bad", max_attempts=1)
    assert bad is not None
    while runner.run_once():
        pass
    assert sorted(p.get("n", 0) for p in seen) == [0, 1]
    assert {"from": "schedule"} in seen
    assert q.store.job_status(bad) == ("failed", 1, "RuntimeError: nope")


def test_runner_records_the_end_of_a_job_once_the_database_is_back(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    q = queue(engine, "r")
    job_id = q.enqueue("ok", dedupe_key="only-one")
    real_done = q.done
    outages = [RuntimeError("database away"), RuntimeError("still away")]

    def flaky_done(job: Job) -> bool:
        if outages:
            raise outages.pop(0)
        return real_done(job)

    monkeypatch.setattr(q, "done", flaky_done)
    monkeypatch.setattr(runner_module.time, "sleep", lambda _s: None)
    runner = Runner(q, Scheduler(q.store, q.owner, []), {"ok": JobKind("ok", lambda _p: None)})
    assert runner.run_once() == 1
    # Not left `running` (which would hold its dedupe key until the lease expired).
    assert q.store.job_status(job_id or 0) == ("done", 1, None)
    assert q.enqueue("ok", dedupe_key="only-one") is not None
