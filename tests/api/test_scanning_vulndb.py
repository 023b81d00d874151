"""`wharf vulndb update` against a local OSV mirror, `vulndb status`, and re-evaluation
of stored images from their inventories when the database changes."""

from __future__ import annotations

import http.server
import json
import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest

from tests.support.scan_images import SITE, tree_layer, write_image
from tests.support.scanning import FIXTURE_DB, Cli, push, requests_site, requires_skopeo, unique
from tests.support.server import WharfServer

__all__ = ["requests_site"]

pytestmark = requires_skopeo


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def osv_mirror(tmp_path: Path) -> Iterator[str]:
    """A static OSV bucket on 127.0.0.1: <base>/PyPI/all.zip with two real advisories."""
    root = tmp_path / "mirror"
    (root / "PyPI").mkdir(parents=True)
    with zipfile.ZipFile(root / "PyPI" / "all.zip", "w") as archive:
        for name in ("GHSA-x84v-xcm2-53pg", "GHSA-mh33-7rrq-662w"):
            archive.write(FIXTURE_DB / f"{name}.json", f"{name}.json")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_update_from_mirror_reevaluates_without_reading_layers(
        own_server: WharfServer, osv_mirror: str, requests_site: Path, tmp_path: Path) -> None:
    server = own_server
    server.create_project("scan")
    cli = Cli(server, tmp_path / "cli.json")
    cli.run("login", server.url, "--username", "admin", "--password-stdin",
            stdin=server.admin_password + "\n")
    image = write_image(tmp_path / "img", [tree_layer(requests_site, SITE, unique(""))])
    repo = f"scan/{unique('')}/app"
    assert push(server, image.ref, f"{repo}:1").returncode == 0
    auth = server.auth
    url = f"{server.url}/api/v1/repositories/{repo}/scan/1"
    before = httpx.get(url, auth=auth).json()
    assert before["status"] == "ok"
    assert before["findings"] == []  # an empty database knows no advisories

    # Remove the layer's bytes: re-evaluation must work from the stored inventory.
    layer = json.loads(image.manifest.data)["layers"][0]["digest"].split(":")[1]
    blob = next((server.data_dir / "blobs").rglob(layer))
    blob.unlink()

    result = cli.run("vulndb", "update", "--base-url", osv_mirror, "--ecosystem", "PyPI",
                     "--data-dir", str(server.data_dir))
    assert "osv:PyPI: 2 advisories imported from 2 files" in result.stdout
    assert "re-evaluated 1 stored manifests" in result.stderr

    after = httpx.get(url, auth=auth).json()
    assert {f["id"] for f in after["findings"]} == {"CVE-2018-18074", "CVE-2019-11324"}

    status = json.loads(cli.run("vulndb", "status", "--json").stdout)
    assert status["advisories"] == 2
    (source,) = status["sources"]
    assert source["name"] == "osv:PyPI"
    assert source["origin"] == f"{osv_mirror}/PyPI/all.zip"
    assert source["advisories"] == 2
    assert 0 <= source["age_seconds"] < 600
    table = cli.run("vulndb", "status").stdout
    assert "osv:PyPI" in table


def test_update_reports_a_missing_archive(own_server: WharfServer, osv_mirror: str,
                                          tmp_path: Path) -> None:
    cli = Cli(own_server, tmp_path / "cli.json")
    result = cli.run("vulndb", "update", "--base-url", osv_mirror, "--ecosystem", "npm",
                     "--data-dir", str(own_server.data_dir), check=False)
    assert result.returncode == 1
    assert "HTTP 404" in result.stderr


def test_import_zip_and_reimport_replaces(own_server: WharfServer, tmp_path: Path) -> None:
    archive = tmp_path / "osv.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in FIXTURE_DB.glob("*.json"):
            z.write(path, path.name)
        z.writestr("broken.json", "{not json")
    cli = Cli(own_server, tmp_path / "cli.json")
    first = cli.run("vulndb", "import", str(archive), "--data-dir", str(own_server.data_dir))
    assert "6 advisories imported from 7 files" in first.stdout
    assert "PyPI: 4" in first.stdout
    assert "1 unreadable" in first.stdout
    with zipfile.ZipFile(archive, "w") as z:
        z.write(FIXTURE_DB / "DSA-5514-1.json", "DSA-5514-1.json")
    second = cli.run("vulndb", "import", str(archive), "--data-dir", str(own_server.data_dir))
    assert "1 advisories imported" in second.stdout
    cli.run("login", own_server.url, "--username", "admin", "--password-stdin",
            stdin=own_server.admin_password + "\n")
    assert json.loads(cli.run("vulndb", "status", "--json").stdout)["advisories"] == 1
