"""A real HAProxy load balancer on a free loopback port, round-robin over wharf nodes.

Plain `balance roundrobin` with no stickiness: consecutive requests of one client, even on
one kept-alive connection, go to different nodes, which is what the scale tests want.
Health checks take a killed node out within about a second; `retries` with `redispatch`
send a request whose connection was refused to another node.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.processes import terminate, wait_until_up
from tests.support.server import free_port

CONFIG = """\
global
    maxconn 4096

defaults
    mode http
    timeout connect 2s
    # A busy node answers its health check late; only a dead one should be taken out.
    timeout check 3s
    timeout client 300s
    timeout server 300s
    retries 3
    option redispatch

frontend registry
    bind 127.0.0.1:{port}
    default_backend nodes

backend nodes
    balance roundrobin
    option httpchk GET /v2/
    http-check expect rstatus ^(200|401)$
{servers}
"""


def haproxy_executable() -> str:
    """HAProxy's binary, installing Debian's `haproxy` if needed (the test machines run as
    root; scripts/setup.sh installs it too)."""
    for _ in range(2):
        exe = shutil.which("haproxy") or ("/usr/sbin/haproxy"
                                          if Path("/usr/sbin/haproxy").exists() else None)
        if exe is not None:
            return exe
        if os.geteuid() != 0:
            break
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "haproxy"],
                       check=True, env=env, capture_output=True)
    raise FileNotFoundError("haproxy is not installed (apt-get install haproxy)")


@dataclass
class HAProxy:
    workdir: Path
    backends: list[tuple[str, int]]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def write_config(self) -> Path:
        servers = "\n".join(
            f"    server {name} 127.0.0.1:{port} check inter 300ms fall 2 rise 2"
            for name, port in self.backends)
        path = self.workdir / "haproxy.cfg"
        path.write_text(CONFIG.format(port=self.port, servers=servers))
        return path

    def start(self) -> None:
        config = self.write_config()
        log = (self.workdir / "haproxy.log").open("ab")
        self.proc = subprocess.Popen([haproxy_executable(), "-f", str(config), "-db"],
                                     stdout=log, stderr=subprocess.STDOUT)

        def listening() -> bool:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            except OSError:
                return False
            return True

        wait_until_up(self.proc, "haproxy", listening, 15)

    def stop(self) -> None:
        terminate(self.proc)
        self.proc = None
