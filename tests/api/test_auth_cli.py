"""The `wharf` CLI as a client of /api/v1: login, projects, members, robots, tokens."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.iam import create_user, unique
from tests.support.oci import push_image
from tests.support.server import WharfServer


class Cli:
    def __init__(self, config: Path) -> None:
        self.config = config
        self.exe = str(Path(sys.executable).with_name("wharf"))

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "WHARF_CLI_CONFIG": str(self.config), "COLUMNS": "200"}
        return subprocess.run([self.exe, *args], input=stdin, capture_output=True, text=True,
                              env=env, timeout=60, check=False)

    def ok(self, *args: str, stdin: str | None = None) -> str:
        result = self.run(*args, stdin=stdin)
        assert result.returncode == 0, f"wharf {' '.join(args)}: {result.stderr}"
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))


@pytest.fixture
def cli(tmp_path: Path, server: WharfServer) -> Cli:
    cli = Cli(tmp_path / "wharf" / "config.json")
    result = cli.run("login", server.url, "--username", "admin", "--password-stdin",
                     stdin=server.admin_password + "\n")
    assert result.returncode == 0, result.stderr
    return cli


def test_login_saves_credentials_privately(cli: Cli, server: WharfServer) -> None:
    assert stat.S_IMODE(cli.config.stat().st_mode) == 0o600
    saved = json.loads(cli.config.read_text())
    assert saved["current"] == server.url
    assert saved["servers"][server.url]["username"] == "admin"


def test_login_with_wrong_password_fails(tmp_path: Path, server: WharfServer) -> None:
    cli = Cli(tmp_path / "config.json")
    result = cli.run("login", server.url, "--username", "admin", "--password-stdin",
                     stdin="wrong\n")
    assert result.returncode != 0
    assert "login failed" in result.stderr
    assert not cli.config.exists()


def test_commands_without_login_fail_clearly(tmp_path: Path) -> None:
    result = Cli(tmp_path / "none.json").run("project", "list")
    assert result.returncode != 0
    assert "not logged in" in result.stderr


def test_project_lifecycle(cli: Cli, client: httpx.Client) -> None:
    name = unique("clip")
    created = cli.json("project", "create", name, "--public")
    assert created["name"] == name
    assert created["public"] is True
    listed = cli.json("project", "list")
    assert name in [p["name"] for p in listed["projects"]]
    table = cli.ok("project", "list")
    assert name in table
    assert "repositories" in table
    assert cli.json("project", "list") == json.loads(cli.ok("project", "list", "--format",
                                                            "json"))
    push_image(client, f"{name}/app", tag="v1")
    refused = cli.run("project", "delete", name)
    assert refused.returncode != 0
    assert "repositories" in refused.stderr
    assert cli.json("project", "delete", name, "--force")["deleted"] is True
    duplicate = cli.run("project", "create", "conf")
    assert duplicate.returncode != 0
    assert "already exists" in duplicate.stderr


def test_members(cli: Cli, client: httpx.Client) -> None:
    project = unique("clim")
    cli.json("project", "create", project)
    username = unique("alice")
    create_user(client, username)
    added = cli.json("member", "add", username, "--project", project, "--role", "pusher")
    assert added["role"] == "registry.pusher"
    members = cli.json("member", "list", "--project", project)["members"]
    assert [(m["username"], m["role"]) for m in members] == [(username, "registry.pusher")]
    assert username in cli.ok("member", "list", "--project", project)
    cli.json("member", "remove", username, "--project", project)
    assert cli.json("member", "list", "--project", project)["members"] == []
    bad = cli.run("member", "add", username, "--project", project, "--role", "owner")
    assert bad.returncode != 0
    assert "unknown role" in bad.stderr


def test_robots(cli: Cli, server: WharfServer) -> None:
    project = unique("clir")
    cli.json("project", "create", project)
    robot = cli.json("robot", "create", "--project", project, "--name", "ci", "--role",
                     "pusher", "--expires", "30d")
    assert robot["name"] == f"robot${project}+ci"
    assert robot["secret"]
    assert robot["expires_at"]
    auth = (robot["name"], robot["secret"])
    assert httpx.get(f"{server.url}/v2/", auth=auth).status_code == 200
    listed = cli.json("robot", "list", "--project", project)["robots"]
    assert [r["name"] for r in listed] == [robot["name"]]
    assert "secret" not in listed[0]
    rotated = cli.json("robot", "rotate", "ci", "--project", project)
    assert rotated["secret"] != robot["secret"]
    assert httpx.get(f"{server.url}/v2/", auth=auth).status_code == 401
    assert cli.json("robot", "disable", "ci", "--project", project)["disabled"] is True
    assert httpx.get(f"{server.url}/v2/", auth=(robot["name"], rotated["secret"])) \
        .status_code == 401
    table = cli.ok("robot", "list", "--project", project)
    assert "robot$" in table


def test_tokens(cli: Cli, server: WharfServer) -> None:
    project = unique("clit")
    cli.json("project", "create", project)
    created = cli.json("token", "create", "--project", project, "--role", "pusher", "--ttl",
                       "30d")
    assert created["token"].startswith("wharf_")
    assert created["expires_at"]
    assert httpx.get(f"{server.url}/v2/", auth=("ci", created["token"])).status_code == 200
    too_long = cli.run("token", "create", "--project", project, "--ttl", "100d")
    assert too_long.returncode != 0
    assert "90 days" in too_long.stderr
    tokens = cli.json("token", "list", "--project", project)["tokens"]
    assert [t["id"] for t in tokens] == [created["id"]]
    rotated = cli.json("token", "rotate", created["id"])
    assert rotated["token"] != created["token"]
    assert httpx.get(f"{server.url}/v2/", auth=("ci", created["token"])).status_code == 401
    revoked = cli.json("token", "revoke", created["id"])
    assert revoked["revoked"] is True
    assert httpx.get(f"{server.url}/v2/", auth=("ci", rotated["token"])).status_code == 401
    assert created["id"] in cli.ok("token", "list", "--project", project)


def test_errors_go_to_stderr_with_nonzero_exit(cli: Cli) -> None:
    result = cli.run("member", "list", "--project", unique("ghost"), "--json")
    assert result.returncode != 0
    assert result.stdout == ""
    assert "not found" in result.stderr
