"""Block-on-severity and the allowlist end to end: skopeo pushes, the CLI configures."""

from __future__ import annotations

import gzip
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.support.images import make_tar
from tests.support.oci import (
    OCI_MANIFEST,
    descriptor,
    manifest_json,
    push_blob,
    put_manifest,
    random_config,
)
from tests.support.scan_images import SITE, os_layer, tree_layer, write_image
from tests.support.scanning import (
    Cli,
    cli,
    django_site,
    fixture_db,
    project,
    push,
    requires_skopeo,
    unique,
)
from tests.support.server import WharfServer

__all__ = ["cli", "django_site", "fixture_db", "project"]

pytestmark = [requires_skopeo, pytest.mark.usefixtures("fixture_db")]
MESSAGE = "push rejected: image contains CRITICAL vulnerability CVE-2019-14234"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"


def in_days(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


def django_image(django_site: Path, tmp_path: Path) -> str:
    return write_image(tmp_path / unique("img"),
                       [tree_layer(django_site, SITE, unique(""))]).ref


def test_block_allowlist_and_expiry_through_skopeo(
        server: WharfServer, cli: Cli, project: str, django_site: Path, tmp_path: Path) -> None:
    ref = django_image(django_site, tmp_path)
    repo = f"{project}/web"
    shown = cli.run("policy", "set", "--project", project, "--block-on", "critical")
    assert "block on critical" in shown.stdout

    rejected = push(server, ref, f"{repo}:1.0")
    assert rejected.returncode != 0
    assert MESSAGE in rejected.stderr

    cli.run("scan", "allowlist", "add", "--project", project, "--cve", "CVE-2019-14234",
            "--reason", "JSONField lookups are not used", "--expires", in_days(60))
    accepted = push(server, ref, f"{repo}:1.0")
    assert accepted.returncode == 0, accepted.stderr

    # Renewal is a new review: the entry is replaced by one that expires in two seconds.
    soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    cli.run("scan", "allowlist", "add", "--project", project, "--cve", "CVE-2019-14234",
            "--reason", "short review", "--expires", soon)
    time.sleep(2.5)
    again = push(server, ref, f"{repo}:1.1")
    assert again.returncode != 0
    assert MESSAGE in again.stderr
    listing = cli.run("scan", "allowlist", "list", "--project", project)
    assert "expired" in listing.stdout
    assert "CVE-2019-14234" in listing.stdout


def test_allowlist_needs_reason_and_future_expiry(cli: Cli, project: str) -> None:
    no_reason = cli.run("scan", "allowlist", "add", "--project", project, "--cve",
                        "CVE-2019-14234", "--reason", " ", "--expires", in_days(10), check=False)
    assert no_reason.returncode != 0
    assert "reason is required" in no_reason.stderr
    past = cli.run("scan", "allowlist", "add", "--project", project, "--cve",
                   "CVE-2019-14234", "--reason", "ok", "--expires", "2020-01-01", check=False)
    assert past.returncode != 0
    assert "future" in past.stderr
    missing = cli.run("scan", "allowlist", "add", "--project", project, "--cve",
                      "CVE-2019-14234", "--reason", "ok", check=False)
    assert missing.returncode != 0  # --expires is required


def test_allowlist_remove_blocks_again_and_reports_follow(
        server: WharfServer, cli: Cli, client: httpx.Client, project: str,
        django_site: Path, tmp_path: Path) -> None:
    ref = django_image(django_site, tmp_path)
    repo = f"{project}/web"
    added = cli.run("scan", "allowlist", "add", "--project", project, "--cve",
                    "CVE-2019-14234", "--reason", "accepted", "--expires", in_days(5))
    entry = added.stdout.rsplit("id ", 1)[1].strip()
    cli.run("policy", "set", "--project", project, "--block-on", "high")
    assert push(server, ref, f"{repo}:ok").returncode == 0
    doc = client.get(f"/api/v1/repositories/{repo}/scan/ok").json()
    assert doc["findings"][0]["allowlisted"] is True
    assert doc["policy"]["compliant"] is True

    cli.run("scan", "allowlist", "remove", entry)
    doc = client.get(f"/api/v1/repositories/{repo}/scan/ok").json()
    assert doc["findings"][0]["allowlisted"] is False
    assert doc["policy"] == {"compliant": False, "critical_open": 1,
                             "blocking": "contains CRITICAL vulnerability CVE-2019-14234"}
    assert "open critical findings: 1" in cli.run("policy", "show", "--project",
                                                  project).stdout


def test_registry_wide_allowlist_applies_to_every_project(
        server: WharfServer, cli: Cli, project: str, django_site: Path, tmp_path: Path) -> None:
    ref = django_image(django_site, tmp_path)
    cli.run("policy", "set", "--project", project, "--block-on", "critical")
    assert push(server, ref, f"{project}/web:1").returncode != 0
    added = cli.run("scan", "allowlist", "add", "--cve", "CVE-2019-14234", "--reason",
                    "fleet-wide exception", "--expires", in_days(3))
    assert "registry-wide" in added.stdout
    entry = added.stdout.rsplit("id ", 1)[1].strip()
    try:
        assert push(server, ref, f"{project}/web:1").returncode == 0
    finally:
        cli.run("scan", "allowlist", "remove", entry)
    assert "registry-wide" not in cli.run("scan", "allowlist", "list").stdout or \
        "CVE-2019-14234" not in cli.run("scan", "allowlist", "list").stdout


def test_pulls_refused_when_image_became_non_compliant(
        server: WharfServer, cli: Cli, client: httpx.Client, project: str,
        django_site: Path, tmp_path: Path) -> None:
    ref = django_image(django_site, tmp_path)
    repo = f"{project}/web"
    assert push(server, ref, f"{repo}:old").returncode == 0  # no policy yet
    accept = {"Accept": OCI_MANIFEST}
    assert client.get(f"/v2/{repo}/manifests/old", headers=accept).status_code == 200

    cli.run("policy", "set", "--project", project, "--block-on", "critical", "--block-pulls")
    time.sleep(0.1)
    deadline = time.monotonic() + 10  # the pull-policy cache lives a few seconds per node
    while True:
        resp = client.get(f"/v2/{repo}/manifests/old", headers=accept)
        if resp.status_code == 403 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert resp.status_code == 403
    error = resp.json()["errors"][0]
    assert error["code"] == "DENIED"
    assert error["message"] == "pull refused: image contains CRITICAL vulnerability " \
                               "CVE-2019-14234"
    metrics = client.get("/api/v1/scan/metrics").text
    assert "registry_scan_critical_findings " in metrics
    assert int(metrics.rsplit(" ", 1)[1]) >= 1


def test_failed_scan_is_refused_by_a_blocking_project_unless_allowed(
        cli: Cli, client: httpx.Client, project: str) -> None:
    repo = f"{project}/broken"
    tar = make_tar({"opt/data.bin": bytes(range(256)) * 4000})
    broken = gzip.compress(tar)[:-40]  # truncated: the scan cannot finish
    push_blob(client, repo, broken)
    config = random_config()
    push_blob(client, repo, config)
    body = manifest_json(descriptor(OCI_CONFIG, config), [descriptor(LAYER, broken)])

    resp = put_manifest(client, repo, "free", body)
    assert resp.status_code == 201  # no policy: the report says failed, the push passes
    doc = client.get(f"/api/v1/repositories/{repo}/scan/free").json()
    assert doc["status"] == "failed"
    assert "truncated" in doc["reason"]

    cli.run("policy", "set", "--project", project, "--block-on", "critical")
    resp = put_manifest(client, repo, "blocked", body)
    assert resp.status_code == 403
    message = resp.json()["errors"][0]["message"]
    assert message.startswith("push rejected: image could not be scanned: layer 0:")

    cli.run("policy", "set", "--project", project, "--block-on", "critical",
            "--allow-unscanned")
    assert put_manifest(client, repo, "allowed", body).status_code == 201


def test_policy_rejects_unknown_severity(cli: Cli, project: str) -> None:
    result = cli.run("policy", "set", "--project", project, "--block-on", "severe",
                     check=False)
    assert result.returncode != 0
    assert "unknown severity" in result.stderr


def test_os_layer_alone_passes_critical_policy(
        server: WharfServer, cli: Cli, project: str, tmp_path: Path) -> None:
    # This machine's packages only have an UNKNOWN-severity finding in the fixture DB.
    cli.run("policy", "set", "--project", project, "--block-on", "critical")
    image = write_image(tmp_path / "img", [os_layer(unique(""))])
    assert push(server, image.ref, f"{project}/base:1").returncode == 0
