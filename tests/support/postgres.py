"""A throwaway PostgreSQL cluster on a free loopback port, run as an unprivileged user.

PostgreSQL refuses to run as root, so the cluster's directory belongs to `nobody` and every
server binary runs through `runuser`. The Debian package `postgresql` provides the binaries;
`ensure_installed` installs it when missing (the test machines run as root).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from tests.support.server import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
RUN_AS = "nobody"
SUPERUSER = "wharf"


def _bin_dir() -> Path:
    if PG_BIN.is_dir():
        return PG_BIN
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not found:
        raise FileNotFoundError("PostgreSQL server binaries not found")
    return found[-1]


def ensure_installed() -> Path:
    """The server binaries' directory, installing Debian's `postgresql` if needed."""
    with contextlib.suppress(FileNotFoundError):
        return _bin_dir()
    if os.geteuid() != 0:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "postgresql"],
                   check=True, env=env, capture_output=True)
    return _bin_dir()


def _as_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", RUN_AS, "--", *args] if os.geteuid() == 0 else args


@dataclass
class PostgresServer:
    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="wharf-pg-")))
    bin_dir: Path = field(default_factory=ensure_installed)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname={database}"

    def init(self) -> None:
        self.root.chmod(0o755)
        if os.geteuid() == 0:
            shutil.chown(self.root, RUN_AS)
        subprocess.run(_as_user([str(self.bin_dir / "initdb"), "-D", str(self.data), "-U",
                                 SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-sync"]),
                       check=True, capture_output=True)

    def start(self) -> None:
        if not self.data.exists():
            self.init()
        # fsync off: a test cluster need not survive power loss, and it makes tests fast.
        opts = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=300")
        subprocess.run(_as_user([str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-l",
                                 str(self.root / "server.log"), "-o", opts, "-w", "-t", "30",
                                 "start"]), check=True, capture_output=True)

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(_as_user([str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", mode,
                                 "-w", "stop"]), check=False, capture_output=True)

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self, name: str | None = None, template: str | None = None) -> str:
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            sql = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
            conn.execute(sql.encode())
        return name

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def wait_until_ready(server: PostgresServer, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(server.dsn(), connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
