"""Start wharf and Distribution as their own processes and watch their memory."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

DISTRIBUTION_BIN = "/usr/bin/docker-registry"

DISTRIBUTION_CONFIG = """\
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {data_dir}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
  secret: wharf-bench-not-a-secret
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wharf_executable() -> str:
    candidate = Path(sys.executable).with_name("wharf")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("wharf")
    if found is None:
        raise FileNotFoundError("wharf executable not found next to the interpreter or on PATH")
    return found


@dataclass
class RegistryProcess:
    """One registry server in its own temp dir, on a free loopback port."""

    name: str
    workdir: Path
    argv: list[str]
    port: int
    env: dict[str, str] = field(default_factory=dict)
    credentials: tuple[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.workdir / f"{self.name}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.proc.pid

    def start(self, timeout: float = 30.0) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.workdir, env={**os.environ, **self.env},
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/v2/", timeout=1) as resp:
                    if resp.status == 200:
                        return
            except urllib.error.HTTPError as exc:
                if exc.code == 401:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer /v2/ within {timeout:.0f} s")

    def stop(self) -> None:
        """SIGTERM the server, then any of its descendants still alive, each by PID."""
        if self.proc is None:
            return
        children = descendants(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc = None

    def log_tail(self, n: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""


def distribution(workdir: Path) -> RegistryProcess:
    port = free_port()
    data_dir = workdir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    config = workdir / "config.yml"
    config.write_text(DISTRIBUTION_CONFIG.format(data_dir=data_dir, port=port))
    return RegistryProcess("distribution", workdir, [DISTRIBUTION_BIN, "serve", str(config)], port)


def wharf(workdir: Path, extra_args: list[str] | None = None,
          extra_env: dict[str, str] | None = None) -> RegistryProcess:
    port = free_port()
    data_dir = workdir / "data"
    argv = [wharf_executable(), "serve", "--host", "127.0.0.1", "--port", str(port),
            "--data-dir", str(data_dir), *(extra_args or [])]
    # A fresh data dir bootstraps the `admin` user with this password; a wharf without
    # auth ignores it, and the client only uses it when /v2/ answers with a challenge.
    password = secrets.token_urlsafe(18)
    env = {"WHARF_ADMIN_PASSWORD": password, "WHARF_LOG_LEVEL": "warning", **(extra_env or {})}
    return RegistryProcess("wharf", workdir, argv, port, env=env,
                           credentials=("admin", password))


def descendants(root: int) -> list[int]:
    """All live descendants of root, found through /proc/<pid>/stat's parent PID."""
    parents: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the fields follow the last ')'.
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [root]
    while todo:
        kids = parents.get(todo.pop(), [])
        found.extend(kids)
        todo.extend(kids)
    return found


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss_bytes(root: int, children: list[int]) -> int:
    return rss_bytes(root) + sum(rss_bytes(pid) for pid in children)


class RssSampler:
    """Samples the summed VmRSS of a process and its descendants every interval, in a thread."""

    def __init__(self, root: int, interval: float = 0.05, rescan_every: int = 20) -> None:
        self.root = root
        self.interval = interval
        self.rescan_every = rescan_every
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        children = descendants(self.root)
        while not self._stop.is_set():
            if self.samples % self.rescan_every == 0:
                children = descendants(self.root)
            self.peak = max(self.peak, tree_rss_bytes(self.root, children))
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process, from /proc/<pid>/stat."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def tree_cpu_seconds(root: int) -> float:
    return cpu_seconds(root) + sum(cpu_seconds(pid) for pid in descendants(root))


def loadavg() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return -1.0
