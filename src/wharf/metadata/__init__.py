"""Metadata store: the only package that writes SQL (SQLAlchemy Core, Alembic)."""
