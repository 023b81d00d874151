"""Starting and stopping helper processes (moto, HAProxy) by their own PID."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable


def wait_until_up(proc: subprocess.Popen[bytes], name: str, ready: Callable[[], bool],
                  timeout: float) -> None:
    """Poll `ready` until it holds; fail at once if the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}")
        if ready():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not come up in {timeout:.0f} s")


def terminate(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM, then SIGKILL after 10 s; this process only, never by name."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
