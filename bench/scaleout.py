"""Scale-out benchmark: the push/pull scenarios on N wharf nodes sharing PostgreSQL and S3
(moto's server) behind HAProxy round-robin, next to one embedded node (SQLite + disk).

    .venv/bin/python -m bench.scaleout            # quick profile, 2 nodes
    .venv/bin/python -m bench.scaleout --smoke    # tiny, to check it runs
    .venv/bin/python -m bench.scaleout --nodes 3 --full

Reuses bench.run's scenario driver and client, and the test suite's process helpers for
PostgreSQL, moto and HAProxy (tests/support). Everything runs on this one machine, so the
cluster's nodes, its database, its object store and the load generator share its cores:
the figures show the cost of the shared back-ends, not the gain of more machines. Server
CPU is counted for the first node only. Prints a table and writes
bench/results/<date>-scaleout-<profile>.json (not for --smoke); asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from tests.support.haproxy import HAProxy
from tests.support.postgres import PostgresServer
from tests.support.s3 import MotoServer

from bench import servers
from bench.profiles import FULL, QUICK, SMOKE
from bench.run import run_scenarios
from bench.scenarios import Dataset

RESULTS_DIR = Path(__file__).with_name("results")
PUSH_PULL = ["large_push_monolithic", "large_push_chunked", "large_pull", "small_push",
             "manifest_get"]
HEADLINE = {"large_push_monolithic": "mbps", "large_push_chunked": "mbps", "large_pull": "mbps",
            "small_push": "images_per_s", "manifest_get": "requests_per_s"}
console = Console(stderr=True)


@contextlib.contextmanager
def cluster(root: Path, nodes: int) -> Iterator[servers.RegistryProcess]:
    """N nodes on PostgreSQL + S3 behind HAProxy, presented as one RegistryProcess (the
    balancer's port, the first node's process)."""
    pg = PostgresServer()
    moto = MotoServer(root)
    started: list[servers.RegistryProcess] = []
    lb: HAProxy | None = None
    try:
        pg.start()
        database = pg.create_database("wharf")
        moto.start()
        bucket = moto.new_bucket()
        env = {"WHARF_DATABASE_URL": pg.url(database), **moto.settings_env(bucket)}
        for i in range(nodes):
            workdir = root / f"node{i}"
            workdir.mkdir()
            extra = dict(env)
            if started and started[0].credentials:
                # One admin for the cluster: the first node bootstrapped it.
                extra["WHARF_ADMIN_PASSWORD"] = started[0].credentials[1]
            node = servers.wharf(workdir, extra_env=extra)
            if started:
                node.credentials = started[0].credentials
            node.start()
            started.append(node)
        lb = HAProxy(root, [(f"node{i}", n.port) for i, n in enumerate(started)])
        lb.start()
        yield servers.RegistryProcess(f"wharf x{nodes} (pg+s3)", root, [], lb.port,
                                      credentials=started[0].credentials,
                                      proc=started[0].proc)
    finally:
        if lb is not None:
            lb.stop()
        for node in started:
            node.stop()
        moto.stop()
        pg.destroy()


def headline(results: dict[str, Any], scenario: str) -> str:
    entry = results.get(scenario) or {}
    if not entry.get("ok"):
        return f"error: {str(entry.get('error'))[:40]}"
    metrics = entry.get("metrics", {})
    key = HEADLINE[scenario]
    value = metrics.get(key)
    if value is None:  # a load generator reports under its own names
        numbers = {k: v for k, v in metrics.items() if isinstance(v, int | float)}
        key, value = next(iter(numbers.items()), (key, None))
    return "-" if value is None else f"{value:,.1f} {key}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--smoke", action="store_true")
    mode.add_argument("--full", action="store_true")
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the servers' temp dirs")
    args = parser.parse_args(argv)
    profile = SMOKE if args.smoke else FULL if args.full else QUICK
    started = dt.datetime.now(dt.UTC)
    root = Path(tempfile.mkdtemp(prefix="wharf-scaleout-"))
    runs: dict[str, Any] = {}
    try:
        data = Dataset.build(profile)
        embedded_dir = root / "embedded"
        embedded_dir.mkdir()
        single = servers.wharf(embedded_dir)
        single.start()
        try:
            runs["embedded"] = asyncio.run(run_scenarios(single, profile, data, PUSH_PULL))
        finally:
            single.stop()
        cluster_dir = root / "cluster"
        cluster_dir.mkdir()
        with cluster(cluster_dir, args.nodes) as balanced:
            runs["cluster"] = asyncio.run(run_scenarios(balanced, profile, data, PUSH_PULL))
    finally:
        if args.keep:
            console.print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    table = Table(title=f"wharf push/pull: 1 embedded node vs {args.nodes} nodes "
                        f"+ PostgreSQL + S3 ({profile.name})")
    table.add_column("scenario")
    table.add_column("embedded (SQLite + disk)", justify="right")
    table.add_column(f"{args.nodes} nodes (PostgreSQL + moto S3)", justify="right")
    for scenario in PUSH_PULL:
        table.add_row(scenario, headline(runs["embedded"], scenario),
                      headline(runs["cluster"], scenario))
    Console().print(table)
    if not args.smoke:
        out = RESULTS_DIR / f"{started:%Y-%m-%d}-scaleout-{profile.name}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"date": started.strftime("%Y-%m-%d %H:%M UTC"),
                                   "profile": profile.as_dict(), "nodes": args.nodes,
                                   "runs": runs}, indent=2) + "\n")
        console.print(f"results written to {out}")
    failed = any(not s["ok"] for run in runs.values() for s in run.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
