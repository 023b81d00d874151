"""Benchmark wharf against CNCF Distribution: python -m bench.run [--quick|--smoke]."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from rich.console import Console

from bench import limits, servers
from bench.client import RegistryClient
from bench.data import random_base
from bench.profiles import FULL, QUICK, SMOKE, Profile
from bench.report import print_results, write_results_md
from bench.scenarios import PROJECT, SCENARIOS, Context, Dataset

RESULTS_DIR = Path(__file__).with_name("results")
console = Console(stderr=True)


def describe(exc: BaseException) -> str:
    """The first real error, looking inside the ExceptionGroups of TaskGroups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


def registry_version(name: str) -> str:
    if name == "wharf":
        try:
            return version("wharf")
        except PackageNotFoundError:
            return "?"
    try:
        out = subprocess.run([servers.DISTRIBUTION_BIN, "--version"], capture_output=True,
                             text=True, timeout=10, check=False)
        return out.stdout.strip().split()[-1] if out.stdout.strip() else "?"
    except OSError:
        return "?"


async def run_scenarios(server: servers.RegistryProcess, profile: Profile, data: Dataset,
                        only: list[str] | None) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with RegistryClient(server.url, connections=256,
                              credentials=server.credentials) as client:
        await client.ensure_project(PROJECT)
        ctx = Context(server=server, client=client, profile=profile, data=data)
        for name, scenario in SCENARIOS.items():
            if only and name not in only:
                continue
            console.print(f"  {server.name}: {name} ...", end=" ", highlight=False)
            t0 = time.perf_counter()
            client_cpu0 = time.process_time()
            server_cpu0 = servers.tree_cpu_seconds(server.pid)
            try:
                metrics = await scenario(ctx)
            except Exception as exc:  # one broken scenario must not stop the others
                wall = time.perf_counter() - t0
                detail = describe(exc)
                if server.proc is not None and server.proc.poll() is not None:
                    detail += f" (server exited {server.proc.returncode}: {server.log_tail(500)})"
                results[name] = {"ok": False, "error": detail, "metrics": {},
                                 "wall_seconds": wall,
                                 "traceback": traceback.format_exc(limit=6)}
                console.print(f"[red]error[/] ({wall:.1f} s): {detail[:300]}", highlight=False)
                continue
            wall = time.perf_counter() - t0
            ctx.done.add(name)
            results[name] = {
                "ok": True, "error": None, "metrics": metrics, "wall_seconds": wall,
                # Includes untimed setup (tags, repositories); wrk/hey CPU is not the client's.
                "server_cpu_seconds": servers.tree_cpu_seconds(server.pid) - server_cpu0,
                "client_cpu_seconds": time.process_time() - client_cpu0,
            }
            console.print(f"ok ({wall:.1f} s)", highlight=False)
    return results


def bench_registry(name: str, root: Path, profile: Profile, data: Dataset,
                   only: list[str] | None, wharf_args: list[str],
                   wharf_env: dict[str, str]) -> dict[str, Any]:
    workdir = root / name
    workdir.mkdir()
    entry: dict[str, Any] = {"version": registry_version(name), "scenarios": {},
                             "start_error": None}
    try:
        if name == "wharf":
            server = servers.wharf(workdir, wharf_args, wharf_env)
            entry["args"] = wharf_args
            entry["env"] = wharf_env
        else:
            server = servers.distribution(workdir)
        server.start()
    except (OSError, RuntimeError) as exc:
        entry["start_error"] = str(exc)
        console.print(f"[red]{name} did not start:[/] {exc}", highlight=False)
        return entry
    console.print(f"{name} {entry['version']} on {server.url} (pid {server.pid})",
                  highlight=False)
    try:
        entry["scenarios"] = asyncio.run(run_scenarios(server, profile, data, only))
    finally:
        server.stop()
    return entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="smaller sizes, about a minute")
    mode.add_argument("--smoke", action="store_true",
                      help="tiny run against wharf only, for CI: exits 1 if anything errored")
    parser.add_argument("--only", choices=("wharf", "distribution", "both"), default=None,
                        help="which registries to run (default: both; wharf for --smoke)")
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS),
                        help="run only this scenario (repeatable; others it needs are not "
                        "run, so they report an error)")
    parser.add_argument("--json-out", type=Path, default=None,
                        help="results JSON (default: bench/results/<date>-<mode>.json; "
                        "none for --smoke)")
    parser.add_argument("--update-results-md", action="store_true",
                        help="regenerate bench/RESULTS.md from this run")
    parser.add_argument("--wharf-arg", action="append", default=[], metavar="ARG",
                        help="extra argument for `wharf serve`, e.g. --wharf-arg=--workers=2")
    parser.add_argument("--wharf-env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for wharf, e.g. WHARF_SQLITE_SYNCHRONOUS=NORMAL")
    parser.add_argument("--keep", action="store_true", help="keep the servers' temp dirs")
    args = parser.parse_args(argv)

    profile = SMOKE if args.smoke else QUICK if args.quick else FULL
    wharf_env = dict(item.split("=", 1) for item in args.wharf_env if "=" in item)
    if len(wharf_env) != len(args.wharf_env):
        parser.error("--wharf-env takes NAME=VALUE")
    only = args.only or ("wharf" if args.smoke else "both")
    names = ["wharf", "distribution"] if only == "both" else [only]
    started = dt.datetime.now(dt.UTC)

    load_before = servers.loadavg()
    if load_before > 0.5:
        console.print(f"[yellow]warning:[/] 1-minute load average is {load_before:.2f} before "
                      "the run: other work on this machine will skew the figures")
    root = Path(tempfile.mkdtemp(prefix="wharf-bench-"))
    try:
        console.print(f"[bold]{profile.name} run[/] in {root}; preparing data ...")
        t0 = time.perf_counter()
        data = Dataset.build(profile)
        limit_data = random_base(profile.limit_bytes, seed=4)
        console.print(f"data ready in {time.perf_counter() - t0:.1f} s; measuring machine "
                      "limits ...", highlight=False)
        try:
            machine_limits: dict[str, Any] = limits.measure(root, limit_data)
        except OSError as exc:
            machine_limits = {"error": str(exc)}
        del limit_data
        registries = {name: bench_registry(name, root, profile, data, args.scenario,
                                            args.wharf_arg, wharf_env)
                      for name in names}
    finally:
        if args.keep:
            console.print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    results: dict[str, Any] = {
        "schema": 1,
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "mode": profile.name,
        "machine": {**limits.machine(), "loadavg_before": load_before,
                    "loadavg_after": servers.loadavg()},
        "profile": profile.as_dict(),
        "limits": machine_limits,
        "registries": registries,
    }
    print_results(results)

    out: Path | None = args.json_out
    if out is None and not args.smoke:
        out = RESULTS_DIR / f"{started:%Y-%m-%d}-{profile.name}.json"
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2) + "\n")
        console.print(f"results written to {out}")
    if args.update_results_md:
        write_results_md(results)
        console.print("bench/RESULTS.md regenerated")

    failed = any(reg["start_error"] or any(not s["ok"] for s in reg["scenarios"].values())
                 for reg in registries.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
