"""Start a real `wharf serve` process on a free loopback port for tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

# Every test server bootstraps `admin` with this password (WHARF_ADMIN_PASSWORD).
ADMIN_PASSWORD = "wharf-test-admin-password"
# Every test server accepts this token at its Kubernetes admission webhook.
ADMISSION_TOKEN = "wharf-test-admission-token"
# Projects the shared tests push into (the first path component of their repositories);
# pushing into a project that does not exist is denied, so each server gets them.
TEST_PROJECTS = ("conf", "interop", "bench", "catalog", "conf2", "multi", "purge")


def admin_auth() -> httpx.BasicAuth:
    return httpx.BasicAuth("admin", ADMIN_PASSWORD)


def create_project(url: str, name: str, public: bool = False,
                   auth: httpx.Auth | None = None) -> None:
    """Create a project through the management API (an existing one is fine)."""
    resp = httpx.post(f"{url}/api/v1/projects", json={"name": name, "public": public},
                      auth=auth or admin_auth(), timeout=30)
    if resp.status_code not in (201, 409):
        raise RuntimeError(f"creating project {name}: {resp.status_code} {resp.text}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wharf_executable() -> str:
    candidate = Path(sys.executable).with_name("wharf")
    return str(candidate) if candidate.exists() else "wharf"


@dataclass
class WharfServer:
    """A wharf server process with its own data directory."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None
    admin_password: str = ADMIN_PASSWORD
    projects: tuple[str, ...] = TEST_PROJECTS

    @property
    def auth(self) -> httpx.BasicAuth:
        """Credentials of the bootstrap administrator."""
        return httpx.BasicAuth("admin", self.admin_password)

    def create_project(self, name: str, public: bool = False) -> None:
        create_project(self.url, name, public, self.auth)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        # One server process unless a test asks for more (`--workers`): caches kept per
        # process (policy TTLs, login rate limits) would otherwise make what a test sees
        # depend on which process answers.
        env = {**os.environ, "WHARF_ADMIN_PASSWORD": self.admin_password,
               "WHARF_SIGNATURES__ADMISSION_TOKEN": ADMISSION_TOKEN, "WHARF_WORKERS": "1",
               **self.env}
        log = (self.data_dir.parent / f"wharf-{self.port}.log").open("ab")
        self.proc = subprocess.Popen(
            [wharf_executable(), "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--data-dir", str(self.data_dir), *self.extra_args],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"wharf exited with {self.proc.returncode}; see {log.name}")
            try:
                if httpx.get(f"{self.url}/v2/", timeout=1).status_code in (200, 401):
                    for project in self.projects:
                        self.create_project(project)
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("wharf did not come up in 30 s")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()
