"""Fixtures and helpers for the scanning tests against a live server."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.scan_images import pip_target
from tests.support.server import WharfServer, wharf_executable

FIXTURE_DB = Path(__file__).resolve().parents[1] / "fixtures" / "osv"
PIP_CACHE = Path(os.environ.get("WHARF_TEST_PIP_CACHE",
                                Path.home() / ".cache" / "wharf-tests" / "pip"))
REQUESTS_PINS = ["requests==2.19.0", "urllib3==1.23", "idna==2.7", "chardet==3.0.4"]
DJANGO_PINS = ["django==2.2"]

requires_skopeo = pytest.mark.skipif(shutil.which("skopeo") is None,
                                     reason="skopeo is not installed")


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


@dataclass
class Cli:
    """The `wharf` command, logged in to a server as its administrator."""

    server: WharfServer
    config: Path

    def run(self, *args: str, check: bool = True,
            stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "WHARF_CLI_CONFIG": str(self.config), "COLUMNS": "200"}
        result = subprocess.run([wharf_executable(), *args], env=env, input=stdin,
                                capture_output=True, text=True, timeout=300, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"wharf {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result


def push(server: WharfServer, ref: str, target: str,
         creds: str | None = None) -> subprocess.CompletedProcess[str]:
    """skopeo copy of an OCI layout to the server; the result is returned, not checked."""
    user = creds or f"admin:{server.admin_password}"
    return subprocess.run(
        ["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", user,
         "--retry-times", "0", ref, f"docker://{server.host}/{target}"],
        capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="session")
def requests_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """requests 2.19.0 and its pinned dependencies, installed from PyPI with pip."""
    return pip_target(tmp_path_factory.mktemp("requests-site"), REQUESTS_PINS, PIP_CACHE)


@pytest.fixture(scope="session")
def django_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pip_target(tmp_path_factory.mktemp("django-site"), DJANGO_PINS, PIP_CACHE)


@pytest.fixture(scope="session")
def cli(server: WharfServer, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    tool = Cli(server, tmp_path_factory.mktemp("cli") / "config.json")
    tool.run("login", server.url, "--username", "admin", "--password-stdin",
             stdin=server.admin_password + "\n")
    return tool


@pytest.fixture(scope="session")
def fixture_db(server: WharfServer, cli: Cli) -> Iterator[None]:
    """The real-advisory fixture database imported into the shared server."""
    cli.run("vulndb", "import", str(FIXTURE_DB), "--source", "fixtures",
            "--data-dir", str(server.data_dir))
    return


@pytest.fixture
def project(server: WharfServer) -> str:
    """A fresh project, so policies and allowlists of one test never reach another's."""
    name = unique("scan")
    server.create_project(name)
    return name
