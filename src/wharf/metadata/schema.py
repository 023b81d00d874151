"""The metadata schema, in one place. Migrations in `migrations/` mirror it.

Content (blobs, manifests, the references between them) is global and keyed by digest;
what a repository holds is a set of links to it, so bytes are stored once however many
repositories or projects use them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

DIGEST = String(200)

projects = Table(
    "projects", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("public", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

repositories = Table(
    "repositories", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

blobs = Table(
    "blobs", metadata,
    Column("digest", DIGEST, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

repository_blobs = Table(
    "repository_blobs", metadata,
    Column("repository_id", Integer, ForeignKey("repositories.id", ondelete="CASCADE"),
           primary_key=True),
    Column("digest", DIGEST, ForeignKey("blobs.digest"), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_repository_blobs_digest", "digest"),
)

manifests = Table(
    "manifests", metadata,
    Column("digest", DIGEST, primary_key=True),
    Column("media_type", String(255), nullable=False),
    Column("artifact_type", String(255)),
    Column("subject", DIGEST, index=True),
    Column("annotations", Text),
    Column("size", BigInteger, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# What a manifest refers to: config and layer blobs ("blob") and, for an index, child
# manifests ("manifest"). Keyed by content, so it is written once per manifest digest.
manifest_references = Table(
    "manifest_references", metadata,
    Column("parent", DIGEST, ForeignKey("manifests.digest", ondelete="CASCADE"),
           primary_key=True),
    Column("child", DIGEST, primary_key=True),
    Column("kind", String(16), primary_key=True),
    Index("ix_manifest_references_child", "child"),
)

repository_manifests = Table(
    "repository_manifests", metadata,
    Column("repository_id", Integer, ForeignKey("repositories.id", ondelete="CASCADE"),
           primary_key=True),
    Column("digest", DIGEST, ForeignKey("manifests.digest"), primary_key=True),
    Column("pushed_at", DateTime(timezone=True), nullable=False),
    Index("ix_repository_manifests_digest", "digest"),
)

tags = Table(
    "tags", metadata,
    Column("repository_id", Integer, ForeignKey("repositories.id", ondelete="CASCADE"),
           primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("digest", DIGEST, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_tags_digest", "digest"),
)

# -- identity and access (see wharf.auth) ---------------------------------------------
# Secrets are stored only as argon2 hashes; the cleartext is shown once when created.

users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(255), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    # A system administrator: every project, creates projects, manages issuers.
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

members = Table(
    "members", metadata,
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"),
           primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_members_user_id", "user_id"),
)

robots = Table(
    "robots", metadata,
    Column("id", Integer, primary_key=True),
    # The full login name, `robot$<project>+<name>`.
    Column("name", String(300), nullable=False, unique=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("role", String(32), nullable=False),
    Column("secret_hash", String(255), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("description", String(1000)),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

api_tokens = Table(
    "api_tokens", metadata,
    # The public half of a token (`wharf_<id>_<secret>`): it finds the row to verify against.
    Column("id", String(32), primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True),
    Column("role", String(32), nullable=False),
    Column("secret_hash", String(255), nullable=False),
    Column("description", String(1000)),
    Column("ttl_seconds", Integer, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Keys that sign registry tokens. Every node reads them from here, so a token issued by
# one node verifies on all; a retired key no longer signs but still verifies.
signing_keys = Table(
    "signing_keys", metadata,
    Column("kid", String(64), primary_key=True),
    Column("algorithm", String(16), nullable=False),
    Column("private_pem", Text, nullable=False),
    Column("public_jwk", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("retired_at", DateTime(timezone=True)),
)

oidc_issuers = Table(
    "oidc_issuers", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("issuer", String(1000), nullable=False),
    Column("audience", String(1000)),
    Column("jwks", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

oidc_mappings = Table(
    "oidc_mappings", metadata,
    Column("id", Integer, primary_key=True),
    Column("issuer_id", Integer, ForeignKey("oidc_issuers.id", ondelete="CASCADE"),
           nullable=False, index=True),
    # Glob patterns; a rule matches when every pattern given matches.
    Column("subject", String(1000)),
    Column("namespace", String(255)),
    Column("service_account", String(255)),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"),
           nullable=False),
    Column("role", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

audit_events = Table(
    "audit_events", metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("action", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("actor", String(300)),
    Column("remote", String(64)),
    Column("target", String(500)),
    Column("detail", Text),
    # Failed logins per (actor, remote) in the last minute drive the rate limit.
    Index("ix_audit_events_login", "actor", "remote", "at"),
)

# -- background jobs (see wharf.jobs and docs/adr: queue semantics) -------------------
# A job is claimed by setting its lease; a lease that expires (its node died) makes the
# job claimable again. `dedupe_key` is unique while set, so enqueueing the same work twice
# is a no-op.

jobs = Table(
    "jobs", metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    # queued | running | done | failed
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("max_attempts", Integer, nullable=False),
    Column("run_after", DateTime(timezone=True), nullable=False),
    Column("lease_owner", String(128)),
    Column("lease_expires_at", DateTime(timezone=True)),
    Column("dedupe_key", String(255), unique=True),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_jobs_claim", "status", "run_after"),
)

# Periodic work: whichever node first moves `next_run_at` past now enqueues the run, so it
# happens once across the cluster however many nodes tick.
schedules = Table(
    "schedules", metadata,
    Column("name", String(64), primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("interval_seconds", Integer, nullable=False),
    Column("next_run_at", DateTime(timezone=True), nullable=False),
    Column("last_run_at", DateTime(timezone=True)),
    Column("last_owner", String(128)),
)

# -- vulnerability scanning (see wharf.scanning) ----------------------------------------
# Inventories are per layer digest and reports per manifest digest (content facts, shared
# by every repository holding them); the policy verdict is per project, because policies
# and allowlists are.

scan_layers = Table(
    "scan_layers", metadata,
    Column("digest", DIGEST, primary_key=True),
    # ok | failed
    Column("status", String(16), nullable=False),
    Column("reason", Text),
    Column("inventory", Text, nullable=False),
    Column("package_count", Integer, nullable=False),
    Column("indexed_at", DateTime(timezone=True), nullable=False),
)

vuln_advisories = Table(
    "vuln_advisories", metadata,
    Column("id", String(128), primary_key=True),
    Column("aliases", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("severity", String(16), nullable=False),
    Column("score", Float),
    Column("vector", String(255)),
    Column("modified", String(40), nullable=False),
    Column("published", String(40), nullable=False),
    Column("source", String(255), nullable=False),
)

vuln_affected = Table(
    "vuln_affected", metadata,
    Column("id", Integer, primary_key=True),
    Column("advisory_id", String(128), ForeignKey("vuln_advisories.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("ecosystem", String(64), nullable=False),
    Column("name", String(255), nullable=False),
    Column("data", Text, nullable=False),
    Index("ix_vuln_affected_package", "ecosystem", "name"),
)

vuln_sources = Table(
    "vuln_sources", metadata,
    Column("name", String(255), primary_key=True),
    Column("origin", Text, nullable=False),
    Column("advisories", Integer, nullable=False),
    Column("imported_at", DateTime(timezone=True), nullable=False),
)

scan_reports = Table(
    "scan_reports", metadata,
    Column("digest", DIGEST, primary_key=True),
    # ok | failed | unsupported (not an image: Helm chart, signature, ...)
    Column("status", String(16), nullable=False),
    Column("reason", Text),
    Column("report", Text, nullable=False),
    Column("critical", Integer, nullable=False, default=0),
    Column("scanned_at", DateTime(timezone=True), nullable=False),
)

scan_policies = Table(
    "scan_policies", metadata,
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"),
           primary_key=True),
    Column("block_on", String(16)),
    Column("block_pulls", Boolean, nullable=False, default=False),
    Column("allow_unscanned", Boolean, nullable=False, default=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

scan_allowlist = Table(
    "scan_allowlist", metadata,
    Column("id", Integer, primary_key=True),
    # NULL: registry-wide.
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), index=True),
    Column("cve", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(300)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Ids are never reused: `allowlist remove ID` must not hit a later entry.
    sqlite_autoincrement=True,
)

scan_verdicts = Table(
    "scan_verdicts", metadata,
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"),
           primary_key=True),
    Column("digest", DIGEST, primary_key=True),
    Column("compliant", Boolean, nullable=False),
    # The finding (or scan failure) that makes the image non-compliant.
    Column("blocking", Text),
    # CRITICAL findings not allowlisted: the registry_scan_critical_findings gauge.
    Column("critical_open", Integer, nullable=False),
    Column("evaluated_at", DateTime(timezone=True), nullable=False),
)

# -- lifecycle: retention and garbage collection (see wharf.lifecycle) ------------------
# One retention policy per project; a rule left NULL is off. GC runs are recorded so the
# API can show what a run did (and a run killed mid-way shows as interrupted).

retention_policies = Table(
    "retention_policies", metadata,
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"),
           primary_key=True),
    Column("keep_last", Integer),
    # Comma-separated glob patterns (`release-*,main`).
    Column("keep_tagged", Text),
    Column("delete_untagged_after_seconds", Integer),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(300)),
    Column("last_run_at", DateTime(timezone=True)),
    Column("last_result", Text),
)

gc_runs = Table(
    "gc_runs", metadata,
    Column("id", Integer, primary_key=True),
    # NULL: every project.
    Column("project", String(255)),
    # queued | running | done | failed | interrupted
    Column("status", String(16), nullable=False),
    Column("dry_run", Boolean, nullable=False, default=False),
    Column("grace_seconds", Integer, nullable=False),
    Column("phase", String(32)),
    Column("requested_by", String(300)),
    Column("summary", Text),
    Column("error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    # Bumped while a run works; a running row whose heartbeat stops was interrupted.
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Index("ix_gc_runs_created_at", "created_at"),
)

# -- image signatures (see wharf.signatures) ---------------------------------------------
# A project's signature policy and the public keys (PEM text, not paths) it trusts; a
# signature by any other key does not count. Pull counters are deltas flushed in batches
# by each node, so they are added to, never overwritten.

signature_policies = Table(
    "signature_policies", metadata,
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"),
           primary_key=True),
    Column("require_signed", Boolean, nullable=False, default=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

trusted_keys = Table(
    "trusted_keys", metadata,
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"),
           primary_key=True),
    # sha256 of the DER SubjectPublicKeyInfo: the same key in another PEM wrapping is one row.
    Column("fingerprint", String(80), primary_key=True),
    Column("pem", Text, nullable=False),
    # "key" (SPKI public key) or "certificate" (X.509: its key, and a Notary trust anchor).
    Column("kind", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

signed_pull_counts = Table(
    "signed_pull_counts", metadata,
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"),
           primary_key=True),
    Column("signed", BigInteger, nullable=False, default=0),
    Column("unsigned", BigInteger, nullable=False, default=0),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
