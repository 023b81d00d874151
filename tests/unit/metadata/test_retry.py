"""Which database errors are retried, and how often."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from wharf.metadata import retry
from wharf.metadata.retry import is_transient, retry_transient


def wrap(cls: type[DBAPIError], orig: BaseException, invalidated: bool = False) -> DBAPIError:
    return cls("SELECT 1", {}, orig, connection_invalidated=invalidated)


def test_transient_errors() -> None:
    assert is_transient(wrap(OperationalError, sqlite3.OperationalError("database is locked")))
    assert is_transient(wrap(OperationalError, psycopg.OperationalError("connection refused")))
    assert is_transient(wrap(DBAPIError, Exception("gone"), invalidated=True))
    assert not is_transient(wrap(IntegrityError, sqlite3.IntegrityError("UNIQUE failed")))
    assert not is_transient(wrap(OperationalError, sqlite3.OperationalError("no such table")))
    assert not is_transient(ValueError("x"))


def test_retries_then_gives_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry.time, "sleep", lambda _s: None)
    calls: list[int] = []

    @retry_transient
    def flaky() -> int:
        calls.append(1)
        if len(calls) < 3:
            raise wrap(OperationalError, sqlite3.OperationalError("database is locked"))
        return 7

    assert flaky() == 7
    assert len(calls) == 3

    @retry_transient
    def down() -> None:
        calls.append(1)
        raise wrap(OperationalError, psycopg.OperationalError("connection refused"))

    calls.clear()
    with pytest.raises(OperationalError):
        down()
    assert len(calls) == retry.ATTEMPTS


def test_nested_calls_retry_only_at_the_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry.time, "sleep", lambda _s: None)
    inner_calls: list[int] = []

    @retry_transient
    def inner() -> None:
        inner_calls.append(1)
        raise wrap(OperationalError, sqlite3.OperationalError("database is locked"))

    @retry_transient
    def outer() -> None:
        inner()

    with pytest.raises(OperationalError):
        outer()
    assert len(inner_calls) == retry.ATTEMPTS
