"""Retry of transient database failures around whole transactions.

Transient: a serialization failure or deadlock (PostgreSQL SQLSTATE 40001, 40P01), a
connection that dropped or could not be made (the pool replaces it; `pool_pre_ping` finds
stale ones at checkout), a server shutting down (57P01-57P03), and SQLite's "database is
locked". Only the outermost call retries, so a store method calling another does not
multiply the attempts. What the last attempt raises reaches the HTTP layer, which renders
any DBAPIError as a retriable 503 UNAVAILABLE.

A retried function must be one whole transaction, so running it again is running it once.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError

log = logging.getLogger("wharf.metadata")

P = ParamSpec("P")
R = TypeVar("R")
C = TypeVar("C", bound=type)

ATTEMPTS = 4
FIRST_DELAY = 0.05
_RETRY_SQLSTATES = {"40001", "40P01", "57P01", "57P02", "57P03"}
_depth = threading.local()


def is_transient(exc: BaseException) -> bool:
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in _RETRY_SQLSTATES or (sqlstate or "").startswith("08"):
        return True
    if isinstance(exc, OperationalError):
        if sqlstate is None and type(exc.orig).__module__.startswith("psycopg"):
            return True  # psycopg reports a refused or broken connection without a state
        text = str(exc.orig).lower()
        return "locked" in text or "busy" in text
    return False


def retry_transient(fn: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if getattr(_depth, "value", 0):
            return fn(*args, **kwargs)
        _depth.value = 1
        try:
            delay = FIRST_DELAY
            for attempt in range(1, ATTEMPTS + 1):
                try:
                    return fn(*args, **kwargs)
                except DBAPIError as exc:
                    if attempt == ATTEMPTS or not is_transient(exc):
                        raise
                    log.info("transient database error in %s (attempt %d): %s",
                             fn.__qualname__, attempt, exc.orig)
                    # Jitter, so nodes that failed together do not retry in lockstep.
                    time.sleep(delay * (1 + random.random()))  # noqa: S311
                    delay *= 3
            raise AssertionError("unreachable")
        finally:
            _depth.value = 0

    return wrapper


def retrying(cls: C) -> C:
    """Wrap every public method of a store class in `retry_transient`: each is one
    transaction (or a read), by the stores' own rule."""
    for name, value in list(vars(cls).items()):
        if not name.startswith("_") and callable(value) and not isinstance(value, type):
            setattr(cls, name, retry_transient(value))
    return cls


