"""Scan on push: images built from real files, pushed with skopeo, matched against the
real-advisory fixture database; reports through the API and the CLI, and the SBOM."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from tests.support.scan_images import SITE, os_layer, tree_layer, write_image
from tests.support.scanning import (
    Cli,
    cli,
    django_site,
    fixture_db,
    project,
    push,
    requests_site,
    requires_skopeo,
    unique,
)
from tests.support.server import WharfServer

__all__ = ["cli", "django_site", "fixture_db", "project", "requests_site"]

pytestmark = [requires_skopeo, pytest.mark.usefixtures("fixture_db")]


def glibc_binaries() -> set[str]:
    """Installed binary packages built from glibc, read from this machine's dpkg database."""
    names = set()
    for stanza in Path("/var/lib/dpkg/status").read_text().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in stanza.splitlines()
                      if ": " in line and not line.startswith(" "))
        if fields.get("Status", "").endswith(" installed") and \
                fields.get("Source", "").split(" ")[0] == "glibc":
            names.add(fields["Package"])
    return names


def report(client: httpx.Client, repo: str, reference: str) -> dict:
    resp = client.get(f"/api/v1/repositories/{repo}/scan/{reference}")
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_real_image_findings_are_exactly_the_expected_ones(
        server: WharfServer, client: httpx.Client, project: str, requests_site: Path,
        tmp_path: Path) -> None:
    salt = unique("")
    image = write_image(tmp_path / "img", [os_layer(salt), tree_layer(requests_site, SITE, salt)])
    repo = f"{project}/app"
    result = push(server, image.ref, f"{repo}:1.0")
    assert result.returncode == 0, result.stderr

    doc = report(client, repo, "1.0")
    assert doc["status"] == "ok"
    assert doc["digest"] == image.digest
    assert doc["os"] == "Debian GNU/Linux 12 (bookworm)"
    found = {(f["package"], f["id"]) for f in doc["findings"]}
    expected = {("requests", "CVE-2018-18074"), ("urllib3", "CVE-2019-11324")}
    expected |= {(name, "CVE-2010-4756") for name in glibc_binaries()}
    # None extra: CVE-2018-20060 (urllib3 < 1.23) and DSA-5514-1 (glibc fixed in
    # 2.36-9+deb12u3) are in the database but do not apply to these versions.
    assert found == expected
    requests = next(f for f in doc["findings"] if f["package"] == "requests")
    assert requests["advisory"] == "GHSA-x84v-xcm2-53pg"
    assert requests["aliases"] == ["CVE-2018-18074"]
    assert requests["severity"] == "HIGH"
    assert requests["score"] == 7.5
    assert requests["version"] == "2.19.0"
    assert requests["fixed"] == "2.20.0"
    glibc = next(f for f in doc["findings"] if f["id"] == "CVE-2010-4756")
    assert glibc["severity"] == "UNKNOWN"
    assert glibc["source_package"] == "glibc"
    assert doc["counts"]["HIGH"] == 2
    assert doc["packages"] > 700  # every installed dpkg package plus the four wheels


def test_whiteout_in_upper_layer_removes_package(
        server: WharfServer, client: httpx.Client, project: str, requests_site: Path,
        tmp_path: Path) -> None:
    salt = unique("")
    dist_info = next(p.name for p in requests_site.glob("requests-*.dist-info"))
    upper = tree_layer(requests_site / "idna", f"{SITE}/idna", salt)  # unrelated files
    from tests.support.images import make_layer

    whiteout = make_layer({f"{SITE}/.wh.{dist_info}": b"", f"{SITE}/.wh.urllib3": b"",
                           "var/lib/.wh..wh..opq": b"", "etc/salt": salt.encode()})
    image = write_image(tmp_path / "img", [os_layer(salt), tree_layer(requests_site, SITE, salt),
                                           upper, whiteout])
    repo = f"{project}/app"
    assert push(server, image.ref, f"{repo}:wh").returncode == 0
    doc = report(client, repo, "wh")
    names = {f["package"] for f in doc["findings"]}
    # requests' dist-info is whited out; the opaque var/lib hides the dpkg database.
    assert "requests" not in names
    assert not names & glibc_binaries()
    # urllib3's package directory is gone, but its dist-info (the metadata) is not.
    assert "urllib3" in names


def test_cli_report_table_and_json(server: WharfServer, cli: Cli, project: str,
                                   django_site: Path, tmp_path: Path) -> None:
    salt = unique("")
    image = write_image(tmp_path / "img", [tree_layer(django_site, SITE, salt)])
    repo = f"{project}/web"
    assert push(server, image.ref, f"{repo}:1.0").returncode == 0

    table = cli.run("scan", "report", f"{repo}:1.0")
    assert "CRITICAL" in table.stdout
    assert "CVE-2019-14234" in table.stdout
    assert "2.2.4" in table.stdout  # the fixed version

    doc = json.loads(cli.run("scan", "report", f"{repo}:1.0", "--format", "json").stdout)
    assert [(f["advisory"], f["aliases"]) for f in doc["findings"]] == [
        ("GHSA-6r97-cj55-9hrq", ["CVE-2019-14234"])]
    assert json.loads(cli.run("scan", "report", f"{repo}:1.0", "--json").stdout) == doc


def test_sbom_is_cyclonedx(server: WharfServer, cli: Cli, project: str, requests_site: Path,
                           tmp_path: Path) -> None:
    salt = unique("")
    image = write_image(tmp_path / "img", [os_layer(salt), tree_layer(requests_site, SITE, salt)])
    repo = f"{project}/app"
    assert push(server, image.ref, f"{repo}:1.0").returncode == 0
    out = tmp_path / "sbom.json"
    cli.run("scan", "sbom", f"{repo}:1.0", "-o", str(out))
    bom = json.loads(out.read_text())
    assert bom["bomFormat"] == "CycloneDX"
    assert bom["specVersion"] == "1.5"
    purls = {c.get("purl") for c in bom["components"]}
    assert "pkg:pypi/requests@2.19.0" in purls
    assert any(p and p.startswith("pkg:deb/debian/libc6@") for p in purls)
    assert {"type": "operating-system"}.items() <= bom["components"][0].items()
    ids = {v["id"] for v in bom["vulnerabilities"]}
    assert {"GHSA-x84v-xcm2-53pg", "GHSA-mh33-7rrq-662w"} <= ids


def test_multi_arch_index_is_summarised_per_platform(
        server: WharfServer, client: httpx.Client, project: str, django_site: Path,
        tmp_path: Path) -> None:
    from tests.support.images import OCI_INDEX, Blob, canonical_json

    salt = unique("")
    amd = write_image(tmp_path / "amd", [tree_layer(django_site, SITE, salt)])
    arm = write_image(tmp_path / "arm", [os_layer(salt)])
    repo = f"{project}/multi"
    assert push(server, amd.ref, f"{repo}:amd").returncode == 0
    assert push(server, arm.ref, f"{repo}:arm").returncode == 0
    index = Blob(OCI_INDEX, canonical_json({
        "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            amd.manifest.descriptor(platform={"os": "linux", "architecture": "amd64"}),
            arm.manifest.descriptor(platform={"os": "linux", "architecture": "arm64"})]}))
    resp = client.put(f"/v2/{repo}/manifests/both", content=index.data,
                      headers={"Content-Type": OCI_INDEX})
    assert resp.status_code == 201, resp.text
    doc = report(client, repo, "both")
    assert doc["status"] == "ok"
    platforms = {p["platform"]: p for p in doc["platforms"]}
    assert set(platforms) == {"linux/amd64", "linux/arm64"}
    assert platforms["linux/amd64"]["counts"]["CRITICAL"] == 1
    assert platforms["linux/arm64"]["counts"]["CRITICAL"] == 0
    assert {f["platform"] for f in doc["findings"]} == {"linux/amd64", "linux/arm64"}


def test_layers_are_indexed_in_the_background_after_commit(
        server: WharfServer, client: httpx.Client, project: str) -> None:
    import sqlite3
    import time

    from tests.support.images import make_layer
    from tests.support.oci import push_blob

    # Only layers of 1 MiB and more are indexed in the background; smaller ones at PUT.
    layer = make_layer({"var/lib/dpkg/status": b"Package: bg\nVersion: 1.0\n",
                        "etc/salt": unique("").encode(), "opt/big": os.urandom(1 << 20)})
    assert len(layer.blob.data) >= 1 << 20
    small = make_layer({"etc/salt": unique("").encode()})
    digest = push_blob(client, f"{project}/app", layer.blob.data)
    small_digest = push_blob(client, f"{project}/app", small.blob.data)
    config = push_blob(client, f"{project}/app", b'{"architecture": "amd64"}')

    def indexed(blob: str) -> tuple[str, int] | None:
        db = sqlite3.connect(f"file:{server.data_dir / 'wharf.db'}?mode=ro", uri=True)
        try:
            return db.execute("SELECT status, package_count FROM scan_layers WHERE digest = ?",
                              (blob,)).fetchone()
        finally:
            db.close()

    deadline = time.monotonic() + 20
    while indexed(digest) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert indexed(digest) == ("ok", 1)  # no manifest was pushed: the job did it
    assert indexed(config) is None  # not a layer: nothing recorded
    assert indexed(small_digest) is None  # left to the manifest PUT
