from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import PostgresServer
from tests.support.s3 import MotoServer
from wharf.metadata.engine import make_engine, migrate
from wharf.metadata.iam_store import IamStore
from wharf.metadata.store import MetadataStore
from wharf.storage.driver import StorageDriver
from wharf.storage.filesystem import FilesystemDriver
from wharf.storage.memory import MemoryDriver
from wharf.storage.s3 import S3Driver

# The same suites run over every implementation; S3 is moto's server in its own process
# over HTTP, PostgreSQL a real server in a throwaway cluster (tests/support).


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.start()
    template = server.create_database("wharf_template")
    migrate(server.url(template))
    yield server
    server.destroy()


@pytest.fixture
def s3_bucket(moto: MotoServer) -> Iterator[str]:
    bucket = moto.new_bucket()
    yield bucket
    moto.drop_bucket(bucket)


@pytest.fixture(params=["memory", "filesystem", "s3"])
def driver(request: pytest.FixtureRequest, tmp_path: Path) -> StorageDriver:
    if request.param == "memory":
        return MemoryDriver()
    if request.param == "s3":
        moto: MotoServer = request.getfixturevalue("moto")
        bucket: str = request.getfixturevalue("s3_bucket")
        return S3Driver(bucket, prefix="reg", endpoint_url=moto.endpoint,
                        access_key_id="testing", secret_access_key="testing")
    return FilesystemDriver(tmp_path / "blobs")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of each kind, dropped after the test."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'meta.db'}"
        migrate(url)
        yield url
        return
    pg: PostgresServer = request.getfixturevalue("postgres")
    name = pg.create_database(template="wharf_template")
    yield pg.url(name)
    pg.drop_database(name)


@pytest.fixture
def meta(database_url: str) -> Iterator[MetadataStore]:
    engine = make_engine(database_url)
    # Projects are created explicitly (never by a push); the contract tests push into these.
    for project in ("acme", "p"):
        IamStore(engine).create_project(project)
    yield MetadataStore(engine)
    engine.dispose()
