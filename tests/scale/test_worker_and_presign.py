"""`wharf worker` runs jobs without serving; blob GETs may redirect to presigned S3 URLs."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import psycopg
import pytest
from alembic.script import ScriptDirectory

from tests.scale.conftest import Cluster
from tests.support.oci import push_blob, random_bytes
from tests.support.server import WharfServer, wharf_executable
from wharf.metadata.engine import alembic_config

pytestmark = pytest.mark.scale


def test_worker_runs_periodic_jobs_without_serving(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {**os.environ, "WHARF_PURGE_INTERVAL": "1s", "WHARF_JOBS__POLL_INTERVAL": "0.2",
           "WHARF_ADMIN_PASSWORD": "worker-test-password"}
    log = (tmp_path / "worker.log").open("wb")
    proc = subprocess.Popen([wharf_executable(), "worker", "--data-dir", str(data)], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        runs: list[tuple[str, str]] = []
        while len(runs) < 2:
            assert proc.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, "the worker ran no purge jobs"
            time.sleep(0.3)
            try:
                with sqlite3.connect(data / "wharf.db") as db:
                    runs = db.execute("SELECT status, kind FROM jobs WHERE kind = "
                                      "'uploads.purge' AND status = 'done'").fetchall()
            except sqlite3.OperationalError:
                continue  # not migrated yet
        with sqlite3.connect(data / "wharf.db") as db:
            [(owner,)] = db.execute("SELECT last_owner FROM schedules "
                                    "WHERE name = 'uploads.purge'").fetchall()
        assert f":{proc.pid}:" in owner
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def test_blob_get_redirects_to_a_presigned_url(cluster: Cluster, tmp_path: Path) -> None:
    bucket = cluster.moto.new_bucket()
    server = WharfServer(data_dir=tmp_path / "data", projects=("presign",), env={
        **cluster.moto.settings_env(bucket), "WHARF_STORAGE__S3__PRESIGN": "true"})
    server.start()
    try:
        with httpx.Client(base_url=server.url, auth=server.auth, timeout=30) as client:
            blob = random_bytes(100_000)
            digest = push_blob(client, "presign/app", blob)
            head = client.head(f"/v2/presign/app/blobs/{digest}")
            assert head.status_code == 200  # HEAD answers itself
            resp = client.get(f"/v2/presign/app/blobs/{digest}")
            assert resp.status_code == 307
            location = resp.headers["Location"]
            assert location.startswith(cluster.moto.endpoint)
            assert httpx.get(location).content == blob
            ranged = httpx.get(location, headers={"Range": "bytes=10-19"})
            assert ranged.content == blob[10:20]
    finally:
        server.stop()
        cluster.moto.drop_bucket(bucket)


def test_wharf_migrate_on_postgresql(cluster: Cluster, tmp_path: Path) -> None:
    database = cluster.pg.create_database()
    try:
        # A bare postgresql:// URL: wharf picks the psycopg 3 driver itself.
        url = cluster.pg.url(database).replace("postgresql+psycopg://", "postgresql://")
        env = {**os.environ, "WHARF_DATABASE_URL": url}
        for _ in range(2):  # the second run finds nothing to do
            done = subprocess.run([wharf_executable(), "migrate", "--data-dir",
                                   str(tmp_path / "data")], env=env, capture_output=True,
                                  text=True, timeout=120, check=False)
            assert done.returncode == 0, done.stderr
        with psycopg.connect(cluster.pg.dsn(database)) as conn:
            [(version,)] = conn.execute("SELECT version_num FROM alembic_version").fetchall()
            tables = {r[0] for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert version == ScriptDirectory.from_config(alembic_config(url)).get_current_head()
        assert {"jobs", "schedules", "blobs", "manifests", "tags"} <= tables
    finally:
        cluster.pg.drop_database(database)
