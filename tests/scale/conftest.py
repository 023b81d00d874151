"""A scale-out cluster for the tests in this package: a real PostgreSQL, moto's S3 server,
three `wharf serve` nodes sharing them, and HAProxy round-robin in front.

Built once per session (it takes a few seconds) and shared: every test uses its own
repositories. Tests that kill a node or stop the database put things back before they end.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.haproxy import HAProxy
from tests.support.postgres import PostgresServer
from tests.support.s3 import MotoServer
from tests.support.server import WharfServer

PROJECT = "scale"
NODES = 3
# Short enough that the tests see the periodic purge work, long enough that no session
# of a running push sits idle that long.
UPLOAD_TTL = "8s"
PURGE_INTERVAL = "1s"


@dataclass
class Cluster:
    pg: PostgresServer
    database: str
    moto: MotoServer
    bucket: str
    nodes: list[WharfServer]
    lb: HAProxy
    workdir: Path

    @property
    def auth(self) -> httpx.Auth:
        return self.nodes[0].auth

    def client(self, node: WharfServer | None = None, timeout: float = 60) -> httpx.Client:
        """A client of the balancer, or of one node directly."""
        base = node.url if node is not None else self.lb.url
        return httpx.Client(base_url=base, auth=self.auth, timeout=timeout)

    def auth_file(self, path: Path) -> Path:
        """A containers/docker auth file with the admin's credentials for the balancer."""
        password = self.nodes[0].admin_password
        token = base64.b64encode(f"admin:{password}".encode()).decode()
        path.write_text(json.dumps({"auths": {self.lb.host: {"auth": token}}}))
        return path


def node_env(pg: PostgresServer, database: str, moto: MotoServer, bucket: str) -> dict[str, str]:
    return {
        "WHARF_DATABASE_URL": pg.url(database),
        **moto.settings_env(bucket, prefix="registry"),
        "WHARF_UPLOAD_TTL": UPLOAD_TTL,
        "WHARF_PURGE_INTERVAL": PURGE_INTERVAL,
        "WHARF_JOBS__POLL_INTERVAL": "0.2",
        # A job whose node was killed is taken over this soon.
        "WHARF_JOBS__LEASE": "10s",
        "WHARF_LOG_LEVEL": "info",
    }


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    workdir = Path(tempfile.mkdtemp(prefix="wharf-scale-"))
    pg = PostgresServer()
    moto = MotoServer(workdir)
    nodes: list[WharfServer] = []
    lb: HAProxy | None = None
    try:
        pg.start()
        database = pg.create_database("wharf")
        moto.start()
        bucket = moto.new_bucket()
        env = node_env(pg, database, moto, bucket)
        for i in range(NODES):
            node = WharfServer(data_dir=workdir / f"node{i}" / "data", env=env,
                               projects=(PROJECT,))
            node.data_dir.mkdir(parents=True)
            node.start()
            nodes.append(node)
        lb = HAProxy(workdir, [(f"node{i}", n.port) for i, n in enumerate(nodes)])
        lb.start()
        yield Cluster(pg, database, moto, bucket, nodes, lb, workdir)
    finally:
        if lb is not None:
            lb.stop()
        for node in nodes:
            node.stop()
        moto.stop()
        pg.destroy()
        # SCALE_TEST_KEEP=1 keeps the nodes' logs for a look after a failure.
        if not os.environ.get("SCALE_TEST_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)
