"""Engine creation and migrations for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event

if TYPE_CHECKING:
    from alembic.config import Config

_MIGRATIONS = Path(__file__).with_name("migrations")


def normalize_url(url: str) -> str:
    """Pick the psycopg 3 driver for PostgreSQL URLs that name none (SQLAlchemy would
    otherwise look for psycopg2, which wharf does not install)."""
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg://" + url[len(bare):]
    return url


def make_engine(url: str, *, sqlite_synchronous: str = "FULL", pool_size: int = 10,
                max_overflow: int = 20) -> Engine:
    url = normalize_url(url)
    if not url.startswith("sqlite"):
        # pre_ping finds connections a restarted server dropped before a query fails on
        # them; recycle bounds a connection's life below typical proxy idle timeouts; a
        # short pool timeout turns an exhausted pool into a retriable 503, not a hang.
        return create_engine(url, pool_pre_ping=True, pool_size=pool_size,
                             max_overflow=max_overflow, pool_recycle=1800, pool_timeout=10,
                             connect_args={"connect_timeout": 5, "application_name": "wharf"})
    engine = create_engine(url, pool_size=20, max_overflow=40,
                           connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # We issue BEGIN ourselves (below); pysqlite's implicit transactions get in the way.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute(f"PRAGMA synchronous={sqlite_synchronous}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A writer takes the lock up front: upgrading a read lock later can fail with
        # SQLITE_BUSY without waiting, which the busy timeout does not cover.
        options = conn.get_execution_options()
        if options.get("single_statement", False):
            # One SELECT is consistent by itself; BEGIN and the ROLLBACK at close would
            # triple the statements on the pull path.
            return
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get("write", False) else "BEGIN")

    return engine


class _WriterSlot:
    """One SQLite writer at a time: threads queue on a lock, processes on an flock.

    Both wake a waiter as soon as the slot frees, where SQLite's busy handler sleeps and
    polls with back-off up to 100 ms (so under load the database sat unlocked while
    writers slept). BEGIN IMMEDIATE still takes SQLite's own lock inside the slot, so a
    process that does not queue here (an older wharf) stays correct, only slower.
    """

    def __init__(self, database: str | None) -> None:
        self._lock = threading.Lock()
        self._fd: int | None = None
        if database and database != ":memory:" and not database.startswith("file:"):
            self._fd = os.open(f"{database}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
            weakref.finalize(self, os.close, self._fd)

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        with self._lock:
            if self._fd is None:
                yield
                return
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)


_WRITER_SLOTS: weakref.WeakKeyDictionary[Engine, _WriterSlot] = weakref.WeakKeyDictionary()
_SLOTS_GUARD = threading.Lock()


@contextlib.contextmanager
def writer_slot(engine: Engine) -> Iterator[None]:
    """Serialise write transactions on SQLite (a no-op elsewhere: PostgreSQL locks rows,
    not the database)."""
    if engine.dialect.name != "sqlite":
        yield
        return
    with _SLOTS_GUARD:
        slot = _WRITER_SLOTS.get(engine)
        if slot is None:
            slot = _WRITER_SLOTS[engine] = _WriterSlot(engine.url.database)
    with slot.hold():
        yield


def alembic_config(url: str) -> Config:
    # Imported here: alembic is needed at migrate time only, ~8 MiB a server need not hold.
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return cfg


def migrate(url: str) -> None:
    """Bring the database to the newest schema."""
    from alembic import command  # migrate time only, as above

    command.upgrade(alembic_config(url), "head")
