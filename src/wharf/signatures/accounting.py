"""Signed-pull accounting: counted in memory on the pull path, added to the database in
batches (`flush`, called periodically and at shutdown), so a pull costs no write.

Each node adds its own deltas, so counts from every node sum; a node that dies loses at
most one flush interval of counts, which a percentage metric tolerates.
"""

from __future__ import annotations

import threading
from collections import defaultdict

from wharf.metadata.signature_store import PullCountRow, SignatureStore


class PullCounter:
    def __init__(self, store: SignatureStore) -> None:
        self.store = store
        self._pending: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
        self._lock = threading.Lock()

    def record(self, project: str, signed: bool) -> None:
        with self._lock:
            self._pending[project][0 if signed else 1] += 1

    def flush(self) -> int:
        """Write pending counts; returns how many pulls were written. On a database error
        the counts are put back, to be written by the next flush."""
        with self._lock:
            pending = {p: (c[0], c[1]) for p, c in self._pending.items()}
            self._pending.clear()
        if not pending:
            return 0
        try:
            self.store.add_pull_counts(pending)
        except Exception:
            with self._lock:
                for project, (signed, unsigned) in pending.items():
                    self._pending[project][0] += signed
                    self._pending[project][1] += unsigned
            raise
        return sum(s + u for s, u in pending.values())

    def totals(self, project: str | None = None) -> list[PullCountRow]:
        """Stored counts plus this node's unflushed ones."""
        rows = {r.project: r for r in self.store.pull_counts(project)}
        with self._lock:
            pending = {p: (c[0], c[1]) for p, c in self._pending.items()
                       if project is None or p == project}
        for name, (signed, unsigned) in pending.items():
            row = rows.get(name)
            rows[name] = PullCountRow(name, (row.signed if row else 0) + signed,
                                      (row.unsigned if row else 0) + unsigned)
        return [rows[name] for name in sorted(rows)]


def signed_percentage(rows: list[PullCountRow]) -> float | None:
    """`registry.signed_pulls_pct`: signed pulls over all pulls, in percent; None before
    any pull."""
    signed = sum(r.signed for r in rows)
    total = signed + sum(r.unsigned for r in rows)
    return None if total == 0 else round(100.0 * signed / total, 2)
