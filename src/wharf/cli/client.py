"""The CLI's side of /api/v1: the saved login (config file) and an HTTP client for it.

The config file is `$WHARF_CLI_CONFIG` or `~/.config/wharf/config.json`, written with
mode 0600 because it holds a password or token, like docker's `config.json`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

CONFIG_ENV = "WHARF_CLI_CONFIG"
err = Console(stderr=True)
out = Console(soft_wrap=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
FormatOption = Annotated[str, typer.Option("--format", help="table or json.")]


def config_path() -> Path:
    configured = os.environ.get(CONFIG_ENV)
    if configured:
        return Path(configured)
    return Path.home() / ".config" / "wharf" / "config.json"


@dataclass(frozen=True, slots=True)
class Login:
    server: str
    username: str
    password: str


def save_login(login: Login) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    doc: dict[str, Any] = {}
    if path.exists():
        doc = json.loads(path.read_text() or "{}")
    doc["current"] = login.server
    doc.setdefault("servers", {})[login.server] = {"username": login.username,
                                                   "password": login.password}
    # Created 0600 from the start so the secret is never readable by others.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent=2)
    path.chmod(0o600)
    return path


def load_login() -> Login:
    path = config_path()
    try:
        doc = json.loads(path.read_text())
        server = doc["current"]
        entry = doc["servers"][server]
        return Login(server, entry["username"], entry["password"])
    except (OSError, ValueError, KeyError) as exc:
        fail(f"not logged in (no usable {path}); run `wharf login URL --username U "
             "--password-stdin`")
        raise AssertionError from exc


def fail(message: str, code: int = 1) -> None:
    err.print(f"error: {message}", markup=False, highlight=False)
    raise typer.Exit(code)


class ApiClient:
    def __init__(self, login: Login) -> None:
        self.login = login
        self.http = httpx.Client(base_url=login.server.rstrip("/"), timeout=60,
                                 auth=httpx.BasicAuth(login.username, login.password))

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            resp = self.http.request(method, f"/api/v1{path}", **kwargs)
        except httpx.HTTPError as exc:
            fail(f"cannot reach {self.login.server}: {exc}")
        if resp.status_code >= 400:
            fail(_error_text(resp))
        if resp.status_code == 204 or not resp.content:
            return {}
        return resp.json()


def _error_text(resp: httpx.Response) -> str:
    try:
        errors = resp.json()["errors"]
        parts = []
        for e in errors:
            text = f"{e['code'].lower()}: {e['message']}"
            detail = e.get("detail")
            if isinstance(detail, dict) and detail.get("reason"):
                text += f" ({detail['reason']})"
            parts.append(text)
        return "; ".join(parts)
    except (ValueError, KeyError, TypeError):
        return f"HTTP {resp.status_code}: {resp.text[:300]}"


def api() -> ApiClient:
    return ApiClient(load_login())


def wants_json(as_json: bool, fmt: str) -> bool:
    if fmt not in ("table", "json"):
        fail(f"unknown format {fmt!r}: use table or json", 2)
    return as_json or fmt == "json"


def show(data: Any, as_json: bool, rows: list[dict[str, Any]] | None = None,
         columns: list[str] | None = None, title: str | None = None, *,
         after: Callable[[], None] | None = None) -> None:
    """One JSON document with --json; otherwise a table of `rows` (default: [data])."""
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    rows = rows if rows is not None else [data]
    columns = columns or (list(rows[0]) if rows else [])
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*["" if row.get(c) is None else str(row.get(c)) for c in columns])
    out.print(table)
    if after is not None:
        after()
