"""`wharf` commands. Server-side commands live here; the rest are API clients."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from wharf.cli import iam, images, lifecycle
from wharf.cli.scanning import policy_app, scan_app, vulndb_app
from wharf.cli.serve import become_server
from wharf.settings import CONFIG_ENV, load_settings

app = typer.Typer(help="wharf: a private, OCI-compliant container registry.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
config_app = typer.Typer(help="Inspect configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(scan_app, name="scan")
app.add_typer(policy_app, name="policy")
app.add_typer(vulndb_app, name="vulndb")
iam.register(app)
lifecycle.register(app)
images.register(app, lifecycle.image_app)
err = Console(stderr=True)

ConfigOption = Annotated[Path | None, typer.Option("--config", help="TOML settings file.")]


def _use_config(config: Path | None) -> None:
    if config is not None:
        if not config.is_file():
            err.print(f"error: config file {config} not found")
            raise typer.Exit(2)
        os.environ[CONFIG_ENV] = str(config.resolve())


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Where metadata and blobs live.")] = None,
    workers: Annotated[int | None, typer.Option(help="Server processes.")] = None,
    config: ConfigOption = None,
) -> None:
    """Serve the registry (OCI API under /v2/)."""
    from wharf.app import prepare

    _use_config(config)
    # The server process and its workers build their own settings from the environment,
    # so command-line values are passed on through it.
    if data_dir is not None:
        os.environ["WHARF_DATA_DIR"] = str(data_dir.resolve())
    for key, value in (("HOST", host), ("PORT", port), ("WORKERS", workers)):
        if value is not None:
            os.environ[f"WHARF_{key}"] = str(value)
    try:
        settings = load_settings()
    except ValidationError as exc:
        err.print(f"error: invalid settings:\n{exc}")
        raise typer.Exit(2) from exc
    prepare(settings)
    become_server()


@app.command()
def migrate(data_dir: Annotated[Path | None, typer.Option()] = None,
            config: ConfigOption = None) -> None:
    """Bring the metadata database to the newest schema."""
    from wharf.metadata.engine import migrate as run_migrations

    _use_config(config)
    settings = load_settings(data_dir=data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    run_migrations(settings.resolved_database_url)
    typer.echo(f"migrated {settings.resolved_database_url}")


@app.command()
def worker(data_dir: Annotated[Path | None, typer.Option()] = None,
           config: ConfigOption = None) -> None:
    """Run background jobs (upload purge, storage janitors) without serving HTTP."""
    import signal
    import threading

    from wharf.app import build_registry, build_runner, prepare

    # Installed first, so a stop during start-up (migrations) is clean too.
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    _use_config(config)
    try:
        settings = load_settings(data_dir=data_dir)
    except ValidationError as exc:
        err.print(f"error: invalid settings:\n{exc}")
        raise typer.Exit(2) from exc
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    prepare(settings)
    registry = build_registry(settings)
    typer.echo("wharf worker running; SIGTERM stops it after the current job", err=True)
    try:
        build_runner(settings, registry).run_blocking(stop)
    finally:
        registry.meta.engine.dispose()


@config_app.command("check")
def config_check(config: ConfigOption = None) -> None:
    """Validate settings and print the effective configuration as JSON."""
    _use_config(config)
    try:
        settings = load_settings()
    except ValidationError as exc:
        err.print(f"error: invalid settings:\n{exc}")
        raise typer.Exit(2) from exc
    typer.echo(json.dumps(settings.model_dump(mode="json"), indent=2))
