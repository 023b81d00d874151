from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import WharfServer


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WharfServer]:
    """One live wharf server shared by the session's tests (each test uses its own repos)."""
    srv = WharfServer(data_dir=tmp_path_factory.mktemp("wharf") / "data")
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[WharfServer]:
    """A private server for tests that restart or kill it."""
    srv = WharfServer(data_dir=tmp_path / "data")
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def client(server: WharfServer) -> Iterator[httpx.Client]:
    """An HTTP client signed in as the server's administrator (Basic auth)."""
    with httpx.Client(base_url=server.url, timeout=30, auth=server.auth) as c:
        yield c
