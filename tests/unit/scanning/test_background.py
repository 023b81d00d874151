"""The in-process indexing queue: batches, never blocks a commit, stops cleanly."""

from __future__ import annotations

import threading

from wharf.scanning.background import BackgroundIndexer


def test_digests_queued_while_a_batch_runs_form_the_next_batch() -> None:
    batches: list[list[str]] = []
    release = threading.Event()
    first_started = threading.Event()

    def work(batch: list[str]) -> None:
        batches.append(batch)
        first_started.set()
        release.wait(5)

    indexer = BackgroundIndexer(work, batch=3)
    indexer.submit("a")
    assert first_started.wait(5)
    for digest in "bcdef":
        indexer.submit(digest)
    release.set()
    indexer.close()
    assert batches == [["a"], ["b", "c", "d"], ["e", "f"]]


def test_a_full_queue_drops_work_instead_of_blocking() -> None:
    release = threading.Event()
    started = threading.Event()
    seen: list[str] = []

    def work(batch: list[str]) -> None:
        started.set()
        release.wait(5)
        seen.extend(batch)

    indexer = BackgroundIndexer(work, max_queued=2, batch=10)
    indexer.submit("a")
    assert started.wait(5)
    for digest in "bcde":  # two fit, two are dropped (PUT time indexes them)
        indexer.submit(digest)
    release.set()
    indexer.close()
    assert seen == ["a", "b", "c"]


def test_a_failing_batch_does_not_stop_the_worker() -> None:
    seen: list[list[str]] = []
    done = threading.Event()

    def work(batch: list[str]) -> None:
        seen.append(batch)
        if batch == ["bad"]:
            raise RuntimeError("boom")
        done.set()

    indexer = BackgroundIndexer(work)
    indexer.submit("bad")
    while not seen:
        threading.Event().wait(0.01)
    indexer.submit("good")
    assert done.wait(5)
    indexer.close()
    assert seen[-1] == ["good"]


def test_close_without_work_is_a_no_op() -> None:
    BackgroundIndexer(lambda batch: None).close()
