"""Fixtures for driving real clients against the server; the clients live in clients.py."""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.clients import (
    ClientConfig,
    ContainerTool,
    Skopeo,
    require_tool,
    skip_unless_works,
)
from tests.support.server import WharfServer


@pytest.fixture
def client_config(tmp_path: Path, server: WharfServer) -> ClientConfig:
    cfg = ClientConfig.create(tmp_path / "client-config")
    # Signed in as the server's administrator, as `skopeo/podman login` would leave it.
    basic = base64.b64encode(f"admin:{server.admin_password}".encode()).decode()
    cfg.auth_file.write_text(json.dumps({"auths": {server.host: {"auth": basic}}}))
    return cfg


@pytest.fixture
def skopeo(client_config: ClientConfig) -> Skopeo:
    return Skopeo(require_tool("skopeo"), client_config)


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A temporary directory with a short path: podman refuses runroots over 50 characters."""
    path = Path(tempfile.mkdtemp(prefix="wharf-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def podman(client_config: ClientConfig, short_tmp: Path) -> ContainerTool:
    tool = ContainerTool(require_tool("podman"), client_config, short_tmp / "podman")
    skip_unless_works(tool, "info", "--format", "{{.Store.GraphDriverName}}")
    return tool


@pytest.fixture
def buildah(client_config: ClientConfig, short_tmp: Path) -> ContainerTool:
    tool = ContainerTool(require_tool("buildah"), client_config, short_tmp / "buildah")
    skip_unless_works(tool, "info")
    return tool


@pytest.fixture
def repo() -> str:
    """A repository name no other test uses (project ``interop``)."""
    return f"interop/{uuid.uuid4().hex[:8]}/app"


@pytest.fixture
def salt() -> str:
    """Makes the images a test builds distinct from every other test's."""
    return uuid.uuid4().hex
