from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from wharf.metadata.engine import make_engine, migrate
from wharf.metadata.store import MetadataStore
from wharf.storage.driver import StorageDriver
from wharf.storage.filesystem import FilesystemDriver
from wharf.storage.memory import MemoryDriver


@pytest.fixture(params=["memory", "filesystem"])
def driver(request: pytest.FixtureRequest, tmp_path: Path) -> StorageDriver:
    if request.param == "memory":
        return MemoryDriver()
    return FilesystemDriver(tmp_path / "blobs")


@pytest.fixture(params=["sqlite"])
def meta(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    migrate(url)
    engine = make_engine(url)
    yield MetadataStore(engine)
    engine.dispose()
