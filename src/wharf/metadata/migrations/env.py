from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text

from wharf.metadata.schema import metadata

config = context.config
url = config.get_main_option("sqlalchemy.url") or ""
engine = create_engine(url)
with engine.connect() as connection:
    context.configure(
        connection=connection, target_metadata=metadata, render_as_batch=url.startswith("sqlite")
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Nodes started together all migrate: one does, the others then find head.
            connection.execute(text("SELECT pg_advisory_xact_lock(7205)"))
        context.run_migrations()
engine.dispose()
