"""Layer indexing soon after a blob's commit, in this process, in batches.

Nothing here is persisted, on purpose: a digest whose indexing is lost (queue full, the
process exits) is indexed when a manifest naming it is pushed (`ScanService.check_push`
indexes missing layers), so this queue only takes work off the push path. Keeping it in
memory spares every blob commit the three job-queue transactions (enqueue, claim, finish)
that a database queue costs.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable

log = logging.getLogger("wharf.scanning")

_STOP = ""


class BackgroundIndexer:
    def __init__(self, work: Callable[[list[str]], object], *, max_queued: int = 10_000,
                 batch: int = 32) -> None:
        self._work = work
        self._batch = batch
        self._queue: queue.Queue[str] = queue.Queue(max_queued)
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, digest: str) -> None:
        """Queue a committed blob; never blocks, never raises into the upload."""
        self._ensure_thread()
        try:
            self._queue.put_nowait(digest)
        except queue.Full:
            log.debug("index queue full; %s will be indexed at manifest push", digest)

    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="layer-indexer",
                                                daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            digest = self._queue.get()
            if digest == _STOP:
                return
            batch = [digest]
            # What queued up meanwhile is indexed together: one write for the batch.
            while len(batch) < self._batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more == _STOP:
                    self._queue.put(_STOP)
                    break
                batch.append(more)
            try:
                self._work(batch)
            except Exception:
                log.exception("background indexing of %d blobs failed", len(batch))

    def close(self, timeout: float = 10.0) -> None:
        """Stop after the work queued so far, waiting up to `timeout` for room in the queue;
        past that, queued work is dropped (and left to manifest push)."""
        thread = self._thread
        if thread is None:
            return
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            while True:
                with contextlib.suppress(queue.Empty):
                    self._queue.get_nowait()
                try:
                    self._queue.put_nowait(_STOP)
                    break
                except queue.Full:
                    continue
        thread.join(timeout)
