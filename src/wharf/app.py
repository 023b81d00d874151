"""The composition root: settings -> stores -> services -> ASGI app and background work."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.middleware import Middleware

from wharf.api.errors import HANDLERS
from wharf.api.limits import RequestLimits
from wharf.api.routes import ROUTES
from wharf.auth.access import AccessPolicy
from wharf.auth.authn import AuthConfig, Authenticator
from wharf.auth.federation import FederationService
from wharf.auth.management import IamService
from wharf.auth.oidc import MappingRule, TrustedIssuer, parse_jwks
from wharf.auth.roles import Role
from wharf.auth.services import AuthServices
from wharf.auth.tokens import KeyRing, TokenService
from wharf.jobs.kinds import (
    GC_RUN,
    Intervals,
    lifecycle_kinds,
    lifecycle_periodics,
    registry_kinds,
    registry_periodics,
    scanning_kinds,
)
from wharf.jobs.queue import JobQueue
from wharf.jobs.runner import Runner
from wharf.jobs.schedule import Scheduler
from wharf.lifecycle.gc import GarbageCollector
from wharf.lifecycle.service import LifecycleService
from wharf.metadata.engine import make_engine, migrate
from wharf.metadata.iam_store import IamStore
from wharf.metadata.job_store import JobStore
from wharf.metadata.lifecycle_store import LifecycleStore
from wharf.metadata.scan_store import ScanStore
from wharf.metadata.signature_store import SignatureStore
from wharf.metadata.store import MetadataStore
from wharf.registry.service import RegistryService
from wharf.scanning.limits import ScanLimits
from wharf.scanning.service import ScanService
from wharf.settings import Settings, load_settings
from wharf.signatures.admission import AdmissionService, VulnerabilityGate
from wharf.signatures.service import SignatureService
from wharf.signatures.service import SignatureSettings as SignatureConfig
from wharf.storage.driver import StorageDriver
from wharf.storage.filesystem import FilesystemDriver

log = logging.getLogger("wharf")


def build_driver(settings: Settings) -> StorageDriver:
    if settings.storage.driver == "s3":
        # Imported only when configured: boto3 costs a filesystem-backed server ~8 MiB.
        from wharf.storage.s3 import S3Driver

        s3 = settings.storage.s3
        return S3Driver(s3.bucket, prefix=s3.prefix, endpoint_url=s3.endpoint_url,
                        region=s3.region, access_key_id=s3.access_key_id,
                        secret_access_key=s3.secret_access_key, path_style=s3.path_style,
                        part_size=s3.part_size_mib << 20)
    return FilesystemDriver(settings.blob_root)


def build_registry(settings: Settings) -> RegistryService:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url,
                         sqlite_synchronous=settings.sqlite_synchronous,
                         pool_size=settings.database.pool_size,
                         max_overflow=settings.database.max_overflow)
    s3 = settings.storage.s3
    redirect = s3.presign_ttl if settings.storage.driver == "s3" and s3.presign else None
    return RegistryService(MetadataStore(engine), build_driver(settings),
                           upload_ttl=settings.upload_ttl, redirect_ttl=redirect)


def build_scanning(settings: Settings, registry: RegistryService) -> ScanService:
    """Vulnerability scanning over the registry's database and blob store."""
    cfg = settings.scanning
    limits = ScanLimits(max_entries=cfg.max_entries,
                        max_decompressed_bytes=cfg.max_decompressed_mib << 20,
                        max_compression_ratio=cfg.max_compression_ratio,
                        max_file_bytes=cfg.max_file_mib << 20,
                        max_seconds=cfg.max_layer_seconds)
    service = ScanService(ScanStore(registry.meta.engine), registry.driver, limits)
    if cfg.index_on_commit:
        service.index_in_background()
    return service


def build_signatures(settings: Settings, registry: RegistryService) -> SignatureService:
    """Signature verification, the require-signed pull gate and pull accounting."""
    cfg = settings.signatures
    config = SignatureConfig(policy_ttl=cfg.policy_cache_ttl.total_seconds(),
                             verified_ttl=cfg.verified_cache_ttl.total_seconds(),
                             cache_entries=cfg.cache_entries,
                             exempt_pushers=cfg.exempt_pushers)
    return SignatureService(SignatureStore(registry.meta.engine), registry.driver, config)


def _vulnerability_gate(scanning: ScanService) -> VulnerabilityGate:
    """Admission's view of the scan policy: the project's verdict on the digest."""

    def gate(repository: str, digest: str) -> str | None:
        policy = scanning.report(repository, digest).get("policy", {})
        if policy.get("compliant", True):
            return None
        return f"image {policy.get('blocking')}"

    return gate


def build_admission(settings: Settings, signatures: SignatureService,
                    scanning: ScanService | None) -> AdmissionService:
    cfg = settings.signatures
    gate = _vulnerability_gate(scanning) if scanning is not None else None
    return AdmissionService(signatures, frozenset(cfg.registry_hosts),
                            cfg.admission_foreign_images, gate)


async def _flush_pull_counts(signatures: SignatureService, interval: float,
                             stop: asyncio.Event) -> None:
    """Write signed/unsigned pull counters in batches, and once more at shutdown."""
    while not stop.is_set():
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
        try:
            await asyncio.to_thread(signatures.flush_counts)
        except Exception:  # a database hiccup must not end the loop; counts are kept
            log.exception("could not write signed-pull counters")


def build_lifecycle(settings: Settings, registry: RegistryService) -> LifecycleService:
    """Retention and GC over the registry's database and store; on-demand GC runs are
    queued as `gc.run` jobs."""
    gc = settings.gc
    collector = GarbageCollector(LifecycleStore(registry.meta.engine), registry.driver,
                                 registry.uploads.purge, registry.idle_uploads,
                                 batch=gc.batch_size, sweep_orphans=gc.sweep_orphans)
    queue = JobQueue(JobStore(registry.meta.engine), lease=settings.jobs.lease)

    def enqueue(run_id: int) -> None:
        queue.enqueue(GC_RUN, {"run_id": run_id}, dedupe_key=f"{GC_RUN}:{run_id}",
                      max_attempts=3)

    return LifecycleService(collector.store, collector, grace=gc.grace, enqueue=enqueue)


def build_runner(settings: Settings, registry: RegistryService,
                 scanning: ScanService | None = None) -> Runner:
    """The background-job runner over the registry's database."""
    queue = JobQueue(JobStore(registry.meta.engine), lease=settings.jobs.lease)
    s3 = settings.storage.s3
    intervals = Intervals(purge_uploads=settings.purge_interval,
                          abort_multipart=s3.janitor_interval,
                          multipart_grace=s3.abandoned_multipart_after)
    periodics = registry_periodics(intervals, multipart=settings.storage.driver == "s3")
    kinds = registry_kinds(registry, queue, intervals)
    kinds.update(scanning_kinds(scanning or build_scanning(settings, registry)))
    kinds.update(lifecycle_kinds(build_lifecycle(settings, registry)))
    periodics += lifecycle_periodics(settings.gc.interval, settings.retention.interval)
    return Runner(queue, Scheduler(queue.store, queue.owner, periodics), kinds,
                  poll_interval=settings.jobs.poll_interval.total_seconds())


def _auth_config(settings: Settings) -> AuthConfig:
    auth = settings.auth
    issuers = []
    for issuer in auth.oidc_issuers:
        jwks = issuer.jwks
        if jwks is None and issuer.jwks_file is not None:
            jwks = parse_jwks(issuer.jwks_file.read_text())
        if jwks is None:
            raise ValueError(f"OIDC issuer {issuer.name}: give jwks or jwks_file")
        issuers.append(TrustedIssuer(issuer.name, issuer.issuer, jwks, issuer.audience))
    rules = [MappingRule(m.issuer, m.project, Role.parse(m.role), m.subject, m.namespace,
                         m.service_account) for m in auth.oidc_mappings]
    return AuthConfig(token_ttl=auth.token_ttl, refresh_ttl=auth.refresh_ttl,
                      max_api_token_ttl=auth.max_api_token_ttl,
                      failures_per_minute=auth.login_failures_per_minute,
                      issuers=issuers, rules=rules)


def build_auth(settings: Settings, engine: Engine) -> AuthServices:
    store = IamStore(engine)
    config = _auth_config(settings)
    keys = KeyRing(store)
    tokens = TokenService(keys, settings.auth.issuer, settings.auth.service,
                          config.token_ttl, config.refresh_ttl)
    return AuthServices(Authenticator(store, tokens, config), AccessPolicy(store), tokens,
                        IamService(store, config.max_api_token_ttl),
                        FederationService(store, keys), settings.auth.realm)


def bootstrap_auth(settings: Settings) -> None:
    """First start: the `admin` user (password from WHARF_ADMIN_PASSWORD, or generated and
    shown once) and a token signing key."""
    engine = make_engine(settings.resolved_database_url)
    try:
        auth = build_auth(settings, engine)
        generated = auth.iam.bootstrap_admin(os.environ.get("WHARF_ADMIN_PASSWORD") or None)
        if generated is not None:
            sys.stderr.write(f"wharf: created user 'admin' with password {generated}\n"
                             "wharf: this password is shown only once; change it or set "
                             "WHARF_ADMIN_PASSWORD on first start\n")
        auth.tokens.keys.ensure_key()
    finally:
        engine.dispose()


def prepare(settings: Settings) -> None:
    """One-time start-up work done once, before server processes start."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.resolved_database_url)
    bootstrap_auth(settings)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or load_settings()
    registry = build_registry(settings)
    scanning = build_scanning(settings, registry)
    if settings.scanning.enabled:
        registry.add_hooks(scanning)
    signatures = build_signatures(settings, registry)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        # Background jobs (upload purge, janitors) run here unless `wharf worker`s do them.
        stop = asyncio.Event()
        task = None
        if settings.jobs.in_server:
            task = asyncio.create_task(
                build_runner(settings, registry, scanning).run_async(stop))
        counters = asyncio.create_task(_flush_pull_counts(
            signatures, settings.signatures.counter_flush_interval.total_seconds(), stop))
        try:
            yield
        finally:
            stop.set()
            if task is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(task, 10)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(counters, 10)
            await asyncio.to_thread(scanning.close)
            registry.meta.engine.dispose()

    handlers: Any = HANDLERS
    app = Starlette(routes=ROUTES, exception_handlers=handlers, lifespan=lifespan,
                    middleware=[Middleware(RequestLimits)])
    app.state.registry = registry
    app.state.scanning = scanning
    app.state.signatures = signatures
    token = settings.signatures.admission_token
    app.state.admission_token = token.get_secret_value() if token else None
    app.state.admission = build_admission(
        settings, signatures, scanning if settings.scanning.enabled else None)
    app.state.auth = build_auth(settings, registry.meta.engine)
    app.state.settings = settings
    app.state.lifecycle = build_lifecycle(settings, registry)
    return app
