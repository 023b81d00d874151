from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, select
from sqlalchemy.exc import OperationalError

from wharf.metadata.engine import make_engine
from wharf.metadata.prepared import PreparedSelect

_meta = MetaData()
_items = Table("items", _meta, Column("id", Integer, primary_key=True), Column("name", String))
_BY_NAME = PreparedSelect(select(_items.c.id, _items.c.name)
                          .where(_items.c.name > bindparam("after"))
                          .order_by(_items.c.name).limit(1).offset(1))


def test_runs_on_sqlite_with_the_values_the_statement_carries(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    _meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(_items.insert(), [{"name": n} for n in ("a", "b", "c")])
    assert _BY_NAME.first(engine, {"after": ""}) == (2, "b")  # LIMIT 1 OFFSET 1
    assert _BY_NAME.first(engine, {"after": "b"}) is None
    engine.dispose()


def test_driver_errors_are_sqlalchemy_errors(tmp_path: Path) -> None:
    # The retry of transient failures and the 503 rendering know SQLAlchemy's errors only.
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(OperationalError, match="no such table"):
        PreparedSelect(_BY_NAME.statement).first(engine, {"after": ""})
    engine.dispose()
