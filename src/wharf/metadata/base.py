"""What every store shares: the engine, transactions, and the dialect's INSERT."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Executable, Table
from sqlalchemy.dialects import postgresql, sqlite

from wharf.metadata.engine import writer_slot


class StoreBase:
    """Base of the metadata stores (one per capability, all on the same engine)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # ON CONFLICT lives on the dialects' own INSERT; both spell it the same way.
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self._statements: dict[tuple[str, tuple[str, ...], tuple[str, ...]], Executable] = {}

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction: on SQLite it takes the write lock up front (BEGIN IMMEDIATE).

        SQLite admits one writer; the threads of this process queue for it on a lock of
        their own first. Left to SQLite's busy handler, a waiting writer sleeps and polls
        with back-off up to 100 ms, so under load the lock sat free while writers slept
        (manifest PUT p99 of seconds at 32 concurrent pushes).
        """
        with writer_slot(self.engine), \
                self.engine.connect().execution_options(write=True) as conn, conn.begin():
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _single_read(self) -> Iterator[Connection]:
        """For one SELECT: no explicit transaction around it (see engine.py)."""
        with self.engine.connect().execution_options(single_statement=True) as conn:
            yield conn

    @property
    def inline_reads(self) -> bool:
        """Whether a single read is cheap enough to run on the event loop: SQLite in WAL
        mode reads a local file and never waits for a writer; a network database would
        stall every other request while it answers."""
        return self.engine.dialect.name == "sqlite"

    def _insert_ignore(self, conn: Connection, table: Table, **values: Any) -> None:
        conn.execute(self._statement(table, (), tuple(values)), values)

    def _upsert(self, conn: Connection, table: Table, keys: Sequence[str], **values: Any
                ) -> None:
        """INSERT, or on a conflict over `keys` UPDATE the other given columns."""
        conn.execute(self._statement(table, tuple(keys), tuple(values)), values)

    def _statement(self, table: Table, keys: tuple[str, ...], columns: tuple[str, ...]
                   ) -> Executable:
        # Built once per shape and executed with parameters: building an INSERT with
        # literal values each time cost more CPU than running it.
        shape = (table.name, keys, columns)
        stmt = self._statements.get(shape)
        if stmt is None:
            insert = self._insert(table)
            if keys:
                stmt = insert.on_conflict_do_update(
                    index_elements=[table.c[k] for k in keys],
                    set_={c: insert.excluded[c] for c in columns if c not in keys})
            else:
                stmt = insert.on_conflict_do_nothing()
            self._statements[shape] = stmt
        return stmt
