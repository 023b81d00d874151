"""Periodic work, run once across the cluster.

Each periodic job has a row in `schedules` with its next due time. Every runner ticks; the
first to move a due row's `next_run_at` forward (a conditional UPDATE) enqueues that run,
the others find it no longer due. Nothing is kept in a node's memory, so a node that dies
loses nothing and a new node simply starts ticking.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from wharf.metadata.job_store import JobStore


@dataclass(frozen=True, slots=True)
class Periodic:
    name: str
    kind: str
    interval: timedelta
    payload: dict[str, Any] = field(default_factory=dict)
    max_attempts: int = 3


class Scheduler:
    def __init__(self, store: JobStore, owner: str, periodics: list[Periodic]) -> None:
        self._store = store
        self._owner = owner
        self._periodics = periodics
        self._registered = False

    def _register(self) -> None:
        for p in self._periodics:
            self._store.ensure_schedule(p.name, p.kind, p.interval)
        self._registered = True

    def tick(self) -> list[str]:
        """Enqueue every due periodic job this node wins; returns their names."""
        if not self._registered:
            self._register()
        due = self._store.due_schedules()
        return [p.name for p in self._periodics if p.name in due
                and self._store.fire_due(p.name, self._owner, json.dumps(p.payload),
                                         p.max_attempts) is not None]
