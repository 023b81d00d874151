"""Load generators for the request-rate scenarios: wrk, and hey where wrk cannot go.

wrk 4.1 cannot drive HEAD: its response parser waits for the body that the Content-Length of
a HEAD response announces but never sends, so it completes no request. HEAD goes through hey
(Debian package `hey`, Go), which reads HEAD responses correctly.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

LUA_SCRIPT = Path(__file__).with_name("wrk_report.lua")


class LoadError(Exception):
    """The load generator failed, or too many of its requests did."""


def _check_url(url: str) -> None:
    if not url.startswith("http://127.0.0.1:"):
        raise LoadError(f"refusing to load anything but 127.0.0.1: {url}")


async def _run(argv: list[str], env: dict[str, str] | None, seconds: int) -> str:
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=seconds + 30)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise LoadError(f"{argv[0]} did not finish within {seconds + 30} s") from None
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise LoadError(f"{argv[0]} exited {proc.returncode}: {text[-500:]} "
                        f"{err.decode(errors='replace')[-500:]}")
    return text


def _check_errors(requests: int, errors: int, detail: object) -> None:
    if requests == 0:
        raise LoadError(f"no request completed: {detail}")
    if errors > requests * 0.001:
        raise LoadError(f"{errors} of {requests} requests failed: {detail}")


async def run_wrk(url: str, *, method: str, accept: str | None, headers: dict[str, str],
                  seconds: int, connections: int, threads: int = 2) -> dict[str, Any]:
    """Drive url with wrk; returns requests/s, p50/p90/p99 in ms and the error counts."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise LoadError("wrk is not installed (Debian package `wrk`)")
    _check_url(url)
    env = {**os.environ, "WRK_METHOD": method, "WRK_ACCEPT": accept or "",
           "WRK_AUTHORIZATION": headers.get("Authorization", "")}
    text = await _run([wrk, f"-t{min(threads, connections)}", f"-c{connections}",
                       f"-d{seconds}s", "--timeout", "10s", "-s", str(LUA_SCRIPT), url],
                      env, seconds)
    line = next((ln for ln in text.splitlines() if ln.startswith("WRK_JSON ")), None)
    if line is None:
        raise LoadError(f"wrk printed no WRK_JSON line: {text[-500:]}")
    raw: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
    errors = sum(raw[k] for k in raw if k.startswith("errors_"))
    _check_errors(raw["requests"], errors, raw)
    return {
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "requests": raw["requests"],
        "errors": errors,
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "tool": "wrk",
    }


HEY_PCT = re.compile(r"^\s*(\d+)%+ in ([\d.]+) secs", re.MULTILINE)
HEY_STATUS = re.compile(r"^\s*\[(\d{3})\]\s+(\d+) responses", re.MULTILINE)
HEY_ERRORS = re.compile(r"^\s*\[(\d+)\]\s", re.MULTILINE)
HEY_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")


async def run_hey(url: str, *, method: str, accept: str | None, headers: dict[str, str],
                  seconds: int, connections: int) -> dict[str, Any]:
    """Drive url with hey for `seconds`; same figures as run_wrk (p90 from hey's 90%)."""
    hey = shutil.which("hey")
    if hey is None:
        raise LoadError("hey is not installed (Debian package `hey`)")
    _check_url(url)
    argv = [hey, "-z", f"{seconds}s", "-c", str(connections), "-m", method, "-t", "10",
            "-disable-compression", "-disable-redirects"]
    if accept:
        argv += ["-H", f"Accept: {accept}"]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    text = await _run([*argv, url], None, seconds)
    pct = {int(p): float(v) * 1000 for p, v in HEY_PCT.findall(text)}
    statuses = {int(code): int(n) for code, n in HEY_STATUS.findall(text)}
    rps = HEY_RPS.search(text)
    if rps is None or 50 not in pct or 99 not in pct:
        raise LoadError(f"could not read hey's report: {text[-800:]}")
    ok = sum(n for code, n in statuses.items() if 200 <= code < 400)
    error_section = text.split("Error distribution:", 1)[1] if "Error distribution:" in text else ""
    failed = sum(statuses.values()) - ok + sum(int(n) for n in HEY_ERRORS.findall(error_section))
    _check_errors(ok + failed, failed, text[-800:] if failed else "")
    return {
        "rps": float(rps.group(1)),
        "requests": ok + failed,
        "errors": failed,
        "p50_ms": pct[50],
        "p90_ms": pct.get(90, pct[99]),
        "p99_ms": pct[99],
        "tool": "hey",
    }
