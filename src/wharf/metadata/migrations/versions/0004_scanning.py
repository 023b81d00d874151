"""vulnerability scanning: layer inventories, advisories, reports, policies, allowlist

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 07:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_DIGEST = sa.String(length=200)


def upgrade() -> None:
    op.create_table(
        "scan_layers",
        sa.Column("digest", _DIGEST, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("inventory", sa.Text(), nullable=False),
        sa.Column("package_count", sa.Integer(), nullable=False),
        sa.Column("indexed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_scan_layers")),
    )
    op.create_table(
        "vuln_advisories",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("aliases", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("vector", sa.String(length=255), nullable=True),
        sa.Column("modified", sa.String(length=40), nullable=False),
        sa.Column("published", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vuln_advisories")),
    )
    op.create_table(
        "vuln_affected",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("advisory_id", sa.String(length=128), nullable=False),
        sa.Column("ecosystem", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["advisory_id"], ["vuln_advisories.id"], ondelete="CASCADE",
                                name=op.f("fk_vuln_affected_advisory_id_vuln_advisories")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vuln_affected")),
    )
    op.create_index("ix_vuln_affected_package", "vuln_affected", ["ecosystem", "name"])
    op.create_index(op.f("ix_vuln_affected_advisory_id"), "vuln_affected", ["advisory_id"])
    op.create_table(
        "vuln_sources",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("advisories", sa.Integer(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_vuln_sources")),
    )
    op.create_table(
        "scan_reports",
        sa.Column("digest", _DIGEST, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("report", sa.Text(), nullable=False),
        sa.Column("critical", sa.Integer(), nullable=False),
        sa.Column("scanned_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_scan_reports")),
    )
    op.create_table(
        "scan_policies",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("block_on", sa.String(length=16), nullable=True),
        sa.Column("block_pulls", sa.Boolean(), nullable=False),
        sa.Column("allow_unscanned", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE",
                                name=op.f("fk_scan_policies_project_id_projects")),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_scan_policies")),
    )
    op.create_table(
        "scan_allowlist",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("cve", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE",
                                name=op.f("fk_scan_allowlist_project_id_projects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_allowlist")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_scan_allowlist_project_id"), "scan_allowlist", ["project_id"])
    op.create_table(
        "scan_verdicts",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("digest", _DIGEST, nullable=False),
        sa.Column("compliant", sa.Boolean(), nullable=False),
        sa.Column("blocking", sa.Text(), nullable=True),
        sa.Column("critical_open", sa.Integer(), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE",
                                name=op.f("fk_scan_verdicts_project_id_projects")),
        sa.PrimaryKeyConstraint("project_id", "digest", name=op.f("pk_scan_verdicts")),
    )


def downgrade() -> None:
    op.drop_table("scan_verdicts")
    op.drop_index(op.f("ix_scan_allowlist_project_id"), table_name="scan_allowlist")
    op.drop_table("scan_allowlist")
    op.drop_table("scan_policies")
    op.drop_table("scan_reports")
    op.drop_table("vuln_sources")
    op.drop_index(op.f("ix_vuln_affected_advisory_id"), table_name="vuln_affected")
    op.drop_index("ix_vuln_affected_package", table_name="vuln_affected")
    op.drop_table("vuln_affected")
    op.drop_table("vuln_advisories")
    op.drop_table("scan_layers")
