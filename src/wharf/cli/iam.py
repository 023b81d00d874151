"""`wharf login`, `project`, `member`, `robot`, `token` and `user`: clients of /api/v1."""

from __future__ import annotations

import sys
from typing import Annotated

import httpx
import typer

from wharf.cli.client import (
    FormatOption,
    JsonOption,
    Login,
    api,
    err,
    fail,
    save_login,
    show,
    wants_json,
)

project_app = typer.Typer(help="Projects: create, list, delete.", no_args_is_help=True)
member_app = typer.Typer(help="Project members and their roles.", no_args_is_help=True)
robot_app = typer.Typer(help="Robot accounts of a project.", no_args_is_help=True)
token_app = typer.Typer(help="Project-scoped API tokens (TTL at most 90 days).",
                        no_args_is_help=True)
user_app = typer.Typer(help="Users (system administrators).", no_args_is_help=True)

ProjectOption = Annotated[str, typer.Option("--project", "-p", help="Project name.")]
RoleOption = Annotated[str, typer.Option(
    "--role", help="viewer, puller, pusher or admin (registry.* accepted).")]
PROJECT_COLUMNS = ["name", "public", "repositories", "role", "created_at"]
ROBOT_COLUMNS = ["name", "role", "disabled", "expires_at", "created_at"]
TOKEN_COLUMNS = ["id", "project", "role", "owner", "expires_at", "revoked", "description"]


def login(
    url: Annotated[str, typer.Argument(help="Registry URL, e.g. https://registry.example")],
    username: Annotated[str, typer.Option("--username", "-u")],
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password (or API token) from stdin.")] = False,
    password: Annotated[str | None, typer.Option(
        "--password", help="Prefer --password-stdin: arguments show up in `ps`.")] = None,
) -> None:
    """Check credentials against the registry and save them for later commands."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        fail("give --password-stdin (or --password)", 2)
    assert password is not None
    if "://" not in url:
        url = f"https://{url}"
    try:
        resp = httpx.get(f"{url.rstrip('/')}/api/v1/me", auth=(username, password), timeout=30)
    except httpx.HTTPError as exc:
        fail(f"cannot reach {url}: {exc}")
    if resp.status_code != 200:
        fail(f"login failed: HTTP {resp.status_code} {resp.text[:200]}")
    path = save_login(Login(url.rstrip("/"), username, password))
    err.print(f"Login succeeded as {resp.json().get('name')}; saved in {path}")


# -- projects -------------------------------------------------------------------------

@project_app.command("create")
def project_create(name: str,
                   public: Annotated[bool, typer.Option(
                       "--public", help="Anyone may pull, without logging in.")] = False,
                   as_json: JsonOption = False, fmt: FormatOption = "table") -> None:
    """Create a project (system administrators)."""
    data = api().request("POST", "/projects", json={"name": name, "public": public})
    show(data, wants_json(as_json, fmt), columns=PROJECT_COLUMNS)


@project_app.command("list")
def project_list(as_json: JsonOption = False, fmt: FormatOption = "table") -> None:
    """Projects you can see."""
    data = api().request("GET", "/projects")
    show(data, wants_json(as_json, fmt), data["projects"], PROJECT_COLUMNS, "projects")


@project_app.command("delete")
def project_delete(name: str,
                   force: Annotated[bool, typer.Option(
                       "--force", help="Also delete its repositories.")] = False,
                   as_json: JsonOption = False, fmt: FormatOption = "table") -> None:
    """Delete a project; refused while it has repositories unless --force."""
    api().request("DELETE", f"/projects/{name}", params={"force": str(force).lower()})
    show({"name": name, "deleted": True}, wants_json(as_json, fmt))


# -- members --------------------------------------------------------------------------

@member_app.command("add")
def member_add(username: str, project: ProjectOption, role: RoleOption,
               as_json: JsonOption = False, fmt: FormatOption = "table") -> None:
    """Give a user a role in a project (or change it)."""
    data = api().request("POST", f"/projects/{project}/members",
                         json={"username": username, "role": role})
    show(data, wants_json(as_json, fmt))


@member_app.command("remove")
def member_remove(username: str, project: ProjectOption,
                  as_json: JsonOption = False, fmt: FormatOption = "table") -> None:
    api().request("DELETE", f"/projects/{project}/members/{username}")
    show({"project": project, "username": username, "removed": True},
         wants_json(as_json, fmt))


@member_app.command("list")
def member_list(project: ProjectOption, as_json: JsonOption = False,
                fmt: FormatOption = "table") -> None:
    data = api().request("GET", f"/projects/{project}/members")
    show(data, wants_json(as_json, fmt), data["members"],
         ["username", "role", "created_at"], f"members of {project}")


# -- robots ---------------------------------------------------------------------------

def _secret_note(kind: str) -> None:
    err.print(f"[yellow]Save the {kind} now: it is not shown again.[/yellow]")


@robot_app.command("create")
def robot_create(project: ProjectOption, *,
                 name: Annotated[str, typer.Option("--name", help="robot$<project>+<name>")],
                 role: RoleOption = "puller",
                 expires: Annotated[str | None, typer.Option(
                     "--expires", help="ISO time or duration from now (90d).")] = None,
                 description: Annotated[str | None, typer.Option("--description")] = None,
                 as_json: JsonOption = False, fmt: FormatOption = "table") -> None:
    """Create a robot account; its secret is printed this once."""
    data = api().request("POST", f"/projects/{project}/robots",
                         json={"name": name, "role": role, "expires": expires,
                               "description": description})
    show(data, wants_json(as_json, fmt), columns=[*ROBOT_COLUMNS[:2], "secret", "expires_at"],
         after=lambda: _secret_note("secret"))


@robot_app.command("list")
def robot_list(project: ProjectOption, as_json: JsonOption = False,
               fmt: FormatOption = "table") -> None:
    data = api().request("GET", f"/projects/{project}/robots")
    show(data, wants_json(as_json, fmt), data["robots"], ROBOT_COLUMNS, f"robots of {project}")


def _robot_action(project: str, name: str, action: str, as_json: bool, fmt: str) -> None:
    data = api().request("POST", f"/projects/{project}/robots/{name}/{action}",
                         json={} if action == "rotate" else None)
    columns = [*ROBOT_COLUMNS, "secret"] if action == "rotate" else ROBOT_COLUMNS
    show(data, wants_json(as_json, fmt), columns=columns,
         after=(lambda: _secret_note("secret")) if action == "rotate" else None)


@robot_app.command("disable")
def robot_disable(name: str, project: ProjectOption, as_json: JsonOption = False,
                  fmt: FormatOption = "table") -> None:
    """Disable a robot account (`ci` or `robot$acme+ci`)."""
    _robot_action(project, name, "disable", as_json, fmt)


@robot_app.command("enable")
def robot_enable(name: str, project: ProjectOption, as_json: JsonOption = False,
                 fmt: FormatOption = "table") -> None:
    _robot_action(project, name, "enable", as_json, fmt)


@robot_app.command("rotate")
def robot_rotate(name: str, project: ProjectOption, as_json: JsonOption = False,
                 fmt: FormatOption = "table") -> None:
    """A new secret for a robot account; the old one stops working."""
    _robot_action(project, name, "rotate", as_json, fmt)


# -- API tokens -----------------------------------------------------------------------

@token_app.command("create")
def token_create(project: ProjectOption, *, role: RoleOption = "puller",
                 ttl: Annotated[str, typer.Option("--ttl", help="e.g. 30d, 12h; ≤ 90d")] = "30d",
                 description: Annotated[str | None, typer.Option("--description")] = None,
                 as_json: JsonOption = False, fmt: FormatOption = "table") -> None:
    """Create a project-scoped API token; the token is printed this once."""
    data = api().request("POST", f"/projects/{project}/tokens",
                         json={"role": role, "ttl": ttl, "description": description})
    show(data, wants_json(as_json, fmt), columns=["id", "role", "expires_at", "token"],
         after=lambda: _secret_note("token"))


@token_app.command("list")
def token_list(project: ProjectOption, as_json: JsonOption = False,
               fmt: FormatOption = "table") -> None:
    data = api().request("GET", f"/projects/{project}/tokens")
    show(data, wants_json(as_json, fmt), data["tokens"], TOKEN_COLUMNS, f"tokens of {project}")


@token_app.command("revoke")
def token_revoke(token_id: str, as_json: JsonOption = False, fmt: FormatOption = "table") -> None:
    data = api().request("POST", f"/tokens/{token_id}/revoke")
    show(data, wants_json(as_json, fmt), columns=TOKEN_COLUMNS)


@token_app.command("rotate")
def token_rotate(token_id: str,
                 ttl: Annotated[str | None, typer.Option("--ttl")] = None,
                 as_json: JsonOption = False, fmt: FormatOption = "table") -> None:
    """A new secret and expiry for a token; the old secret stops working."""
    data = api().request("POST", f"/tokens/{token_id}/rotate", json={"ttl": ttl})
    show(data, wants_json(as_json, fmt), columns=["id", "role", "expires_at", "token"],
         after=lambda: _secret_note("token"))


# -- users ----------------------------------------------------------------------------

@user_app.command("create")
def user_create(username: str,
                password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
                admin: Annotated[bool, typer.Option("--admin")] = False,
                as_json: JsonOption = False, fmt: FormatOption = "table") -> None:
    """Create a user; the password is read from stdin."""
    if not password_stdin:
        fail("give the password on stdin with --password-stdin", 2)
    password = sys.stdin.readline().rstrip("\r\n")
    data = api().request("POST", "/users", json={"username": username, "password": password,
                                                 "admin": admin})
    show(data, wants_json(as_json, fmt))


@user_app.command("list")
def user_list(as_json: JsonOption = False, fmt: FormatOption = "table") -> None:
    data = api().request("GET", "/users")
    show(data, wants_json(as_json, fmt), data["users"],
         ["username", "admin", "disabled", "created_at"], "users")


def register(app: typer.Typer) -> None:
    app.command("login")(login)
    app.add_typer(project_app, name="project")
    app.add_typer(member_app, name="member")
    app.add_typer(robot_app, name="robot")
    app.add_typer(token_app, name="token")
    app.add_typer(user_app, name="user")
