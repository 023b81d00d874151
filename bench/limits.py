"""What this machine can do at best with the same data: the ceilings for push and pull."""

from __future__ import annotations

import hashlib
import os
import platform
import time
from pathlib import Path
from typing import Any

MiB = 1024 * 1024
BLOCK = 1 * MiB


def sha256_mbps(data: bytes) -> float:
    """hashlib sha256 over data in 1 MiB updates, single core, MB/s (10^6 bytes)."""
    view = memoryview(data)
    h = hashlib.sha256()
    t0 = time.perf_counter()
    for off in range(0, len(view), BLOCK):
        h.update(view[off : off + BLOCK])
    h.hexdigest()
    return len(data) / (time.perf_counter() - t0) / 1e6


def disk_write_mbps(path: Path, data: bytes) -> float:
    """Write data in 1 MiB blocks and fsync, the way a registry commits a blob; MB/s."""
    view = memoryview(data)
    t0 = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for off in range(0, len(view), BLOCK):
            os.write(fd, view[off : off + BLOCK])
        os.fsync(fd)
    finally:
        os.close(fd)
    return len(data) / (time.perf_counter() - t0) / 1e6


def cached_read_mbps(path: Path, rounds: int = 3) -> float:
    """Read an already-written file (warm in the page cache) in 1 MiB blocks; best of rounds."""
    buf = bytearray(BLOCK)
    size = path.stat().st_size
    best = 0.0
    for _ in range(rounds + 1):  # the first round warms the cache
        t0 = time.perf_counter()
        with path.open("rb", buffering=0) as f:
            while f.readinto(buf):
                pass
        best = max(best, size / (time.perf_counter() - t0) / 1e6)
    return best


def measure(workdir: Path, data: bytes) -> dict[str, float]:
    path = workdir / "limits.bin"
    try:
        sha = max(sha256_mbps(data) for _ in range(2))
        disk = disk_write_mbps(path, data)
        read = cached_read_mbps(path)
    finally:
        path.unlink(missing_ok=True)
    return {
        "sha256_mbps": sha,
        "disk_write_fsync_mbps": disk,
        "page_cache_read_mbps": read,
        "push_ceiling_mbps": min(sha, disk),
        "pull_ceiling_mbps": read,
        "bytes": float(len(data)),
    }


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
                break
    except OSError:
        pass
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "cpu_model": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }
