"""The server process of `wharf serve`: uvicorn over `wharf.app:create_app`.

`wharf serve` checks the settings and runs `app.prepare` (migrations, first-start
bootstrap), then calls `become_server`: the process replaces itself, keeping its PID, with
`python -m wharf.cli.serve`, which reads the same settings from the environment and
imports only what serving needs. So the long-lived process holds none of the command line
(typer, rich, the API client) and none of the memory preparing used. Worker processes
(`--workers N`) start from this module too.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import uvicorn

from wharf.settings import load_settings

# glibc raises its mmap threshold to the largest block freed so far (up to 32 MiB); blocks
# below it come from the heap and mostly stay resident once freed. Fixed at 8 MiB, each
# argon2 run's 19 MiB (auth/secrets.py) is its own mapping, unmapped when it ends: about
# 18 MiB less resident after the first login. Fixing it also drops the heap's trim
# threshold to 128 KiB, so the upload batches' heap was returned and faulted back in at
# every batch (100k page faults and up to 1.7x the CPU per 256 MiB pushed); 16 MiB
# covers their working set. Values already in the environment are kept.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(8 << 20), "MALLOC_TRIM_THRESHOLD_": str(16 << 20)}


def become_server() -> NoReturn:
    for name, value in MALLOC_ENV.items():
        os.environ.setdefault(name, value)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "wharf.cli.serve"])  # noqa: S606 - fixed argv


def main() -> None:
    settings = load_settings()
    uvicorn.run("wharf.app:create_app", factory=True, host=settings.host, port=settings.port,
                workers=settings.resolved_workers, loop="uvloop", http="httptools",
                log_level=settings.log_level, access_log=False, server_header=False)


if __name__ == "__main__":
    main()
