"""The lifecycle commands end to end: `wharf retention|gc|storage|image` against a server."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.support.lifecycle import new_project
from tests.support.oci import push_image
from tests.support.scanning import Cli
from tests.support.server import WharfServer


@pytest.fixture
def wharf(server: WharfServer, tmp_path: Path) -> Cli:
    tool = Cli(server, tmp_path / "config.json")
    tool.run("login", server.url, "--username", "admin", "--password-stdin",
             stdin=server.admin_password + "\n")
    return tool


def test_retention_gc_and_reports_from_the_cli(wharf: Cli, client: httpx.Client) -> None:
    project = new_project(client)
    repo = f"{project}/web"
    for n in range(3):
        push_image(client, repo, f"dev-{n}")
    push_image(client, repo, "release-1")

    wharf.run("retention", "set", "--project", project, "--keep-last", "1",
              "--keep-tagged", "release-*,main", "--delete-untagged-older-than", "7d")
    shown = json.loads(wharf.run("retention", "show", "--project", project, "--json").stdout)
    assert shown["keep_last"] == 1
    assert shown["keep_tagged"] == ["release-*", "main"]
    table = wharf.run("retention", "show", "--project", project).stdout
    assert "release-*" in table

    dry = json.loads(wharf.run("retention", "run", "--project", project, "--dry-run",
                               "--json").stdout)
    real = json.loads(wharf.run("retention", "run", "--project", project, "--json").stdout)
    assert dry["tags"] == real["tags"]
    assert {t["tag"] for t in real["tags"]} == {"dev-0", "dev-1"}
    assert all(t["digest"].startswith("sha256:") for t in real["tags"])

    listed = json.loads(wharf.run("image", "list", "--repo", repo, "--json").stdout)
    assert {t for i in listed["images"] for t in i["tags"]} == {"dev-2", "release-1"}
    assert "dev-2" in wharf.run("image", "list", "--repo", repo).stdout

    run = json.loads(wharf.run("gc", "run", "--project", project, "--grace", "0s",
                               "--json").stdout)
    assert run["status"] == "done"
    assert run["summary"]["blobs_deleted"] >= 4  # dev-0 and dev-1: config + layer each
    summary = wharf.run("gc", "run", "--project", project, "--grace", "0s").stdout
    assert "freed" in summary

    report = json.loads(wharf.run("storage", "report", "--project", project, "--json").stdout)
    assert report["repositories"][0]["images"] == 2
    assert "largest layers" in wharf.run("storage", "report", "--project", project).stdout

    missing = wharf.run("retention", "show", "--project", "no-such-project-q", check=False)
    assert missing.returncode != 0
    assert "error" in missing.stderr
