"""The composition root: settings -> stores -> services -> ASGI app and background work."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware

from wharf.api.errors import HANDLERS
from wharf.api.limits import RequestLimits
from wharf.api.routes import ROUTES
from wharf.metadata.engine import make_engine, migrate
from wharf.metadata.store import MetadataStore
from wharf.registry.service import RegistryService
from wharf.settings import Settings, load_settings
from wharf.storage.filesystem import FilesystemDriver

log = logging.getLogger("wharf")


def build_registry(settings: Settings) -> RegistryService:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url,
                         sqlite_synchronous=settings.sqlite_synchronous)
    driver = FilesystemDriver(settings.blob_root)
    return RegistryService(MetadataStore(engine), driver, upload_ttl=settings.upload_ttl)


def prepare(settings: Settings) -> None:
    """One-time start-up work done once, before server processes start."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.resolved_database_url)


async def _purge_loop(registry: RegistryService, interval: float) -> None:
    while True:
        try:
            purged = await run_in_threadpool(registry.purge_stale_uploads)
            if purged:
                log.info("purged %d abandoned upload sessions", purged)
        except Exception:
            log.exception("upload purge failed")
        await asyncio.sleep(interval)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or load_settings()
    registry = build_registry(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(
            _purge_loop(registry, settings.purge_interval.total_seconds()))
        try:
            yield
        finally:
            task.cancel()
            registry.meta.engine.dispose()

    handlers: Any = HANDLERS
    app = Starlette(routes=ROUTES, exception_handlers=handlers, lifespan=lifespan,
                    middleware=[Middleware(RequestLimits)])
    app.state.registry = registry
    app.state.settings = settings
    return app
