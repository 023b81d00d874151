"""Prepared SELECTs for the pull path: built once, and on SQLite run without SQLAlchemy's
per-execution machinery.

A manifest GET or blob HEAD is one indexed lookup that SQLite answers in a few
microseconds; SQLAlchemy's connection wrapper, execution context and result object cost
about four times that again. On SQLite a prepared SELECT therefore compiles once and runs
on a pooled driver connection (autocommit, as `single_statement` reads do: the SELECT is
its own read transaction, ended when the cursor closes). Driver errors are raised as
SQLAlchemy's `DBAPIError`, so the retry of transient failures and the 503 rendering see
them as they see every other query's. Other databases run the statement through
SQLAlchemy as usual.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, Select
from sqlalchemy.exc import DBAPIError


class PreparedSelect:
    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self._sqlite: tuple[str, tuple[str, ...], dict[str, Any]] | None = None

    def _compiled(self, engine: Engine) -> tuple[str, tuple[str, ...], dict[str, Any]]:
        if self._sqlite is None:
            compiled = self.statement.compile(dialect=engine.dialect)
            assert compiled.positiontup is not None  # SQLite's qmark parameters
            # Values the statement carries itself (LIMIT 2, OFFSET 0), by parameter name.
            carried = {name: bind.effective_value for name, bind in compiled.binds.items()
                       if not bind.required}
            self._sqlite = (compiled.string, tuple(compiled.positiontup), carried)
        return self._sqlite

    def first(self, engine: Engine, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row, or None (SQLite only: the store picks the path)."""
        sql, names, defaults = self._compiled(engine)
        args = tuple(params[name] if name in params else defaults[name] for name in names)
        dbapi = engine.dialect.loaded_dbapi
        try:
            raw = engine.raw_connection()
            try:
                cursor = raw.cursor()
                try:
                    cursor.execute(sql, args)
                    row: tuple[Any, ...] | None = cursor.fetchone()
                finally:
                    cursor.close()
            finally:
                raw.close()
        except dbapi.Error as exc:
            raise DBAPIError.instance(sql, args, exc, dbapi.Error,
                                      dialect=engine.dialect) from exc
        return row
