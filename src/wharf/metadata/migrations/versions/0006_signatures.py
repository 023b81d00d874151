"""image signatures: signature policies, trusted keys, signed-pull counters

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _project_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE",
                                   name=op.f(f"fk_{table}_project_id_projects"))


def upgrade() -> None:
    op.create_table(
        "signature_policies",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("require_signed", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _project_fk("signature_policies"),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_signature_policies")),
    )
    op.create_table(
        "trusted_keys",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=80), nullable=False),
        sa.Column("pem", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _project_fk("trusted_keys"),
        sa.PrimaryKeyConstraint("project_id", "fingerprint", name=op.f("pk_trusted_keys")),
    )
    op.create_table(
        "signed_pull_counts",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("signed", sa.BigInteger(), nullable=False),
        sa.Column("unsigned", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _project_fk("signed_pull_counts"),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_signed_pull_counts")),
    )


def downgrade() -> None:
    op.drop_table("signed_pull_counts")
    op.drop_table("trusted_keys")
    op.drop_table("signature_policies")
