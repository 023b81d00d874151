"""Garbage-collection benchmark: GC time on a large store, and push/pull while GC runs.

    .venv/bin/python -m bench.gc                   # 100k blobs / 10k manifests
    .venv/bin/python -m bench.gc --blobs 20000 --manifests 2000 --seconds 5   # quicker

1. Builds the metadata directly (SQLAlchemy Core, the real schema) and one small file per
   blob, spread over 100 repositories: each manifest references its own config and layers.
2. Times an in-process whole-registry GC with nothing to reclaim (the scan), then unlinks
   half of the manifests and times the GC that reclaims them (rows, then bytes).
3. Starts `wharf serve` on that store and measures push and pull throughput for a few
   seconds, first alone, then with a GC loop (whole registry, grace 1h, so it scans
   everything but reclaims nothing in flight) running through the API.
Prints the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import delete, insert

from bench.servers import wharf as wharf_server
from bench.servers import wharf_executable
from wharf.lifecycle.gc import GarbageCollector
from wharf.metadata import schema as s
from wharf.metadata.engine import make_engine, migrate
from wharf.metadata.lifecycle_store import LifecycleStore
from wharf.storage.filesystem import FilesystemDriver

OLD = datetime.now(UTC) - timedelta(days=30)
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def build_store(data_dir: Path, blobs: int, manifests: int, repos: int = 100) -> list[str]:
    """The store; returns the manifest digests."""
    data_dir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{data_dir / 'wharf.db'}"
    migrate(url)
    engine = make_engine(url, sqlite_synchronous="NORMAL")
    root = data_dir / "blobs"
    per_manifest = max(1, blobs // manifests)
    digests: list[str] = []
    with engine.begin() as conn:
        conn.execute(insert(s.projects).values(id=1000, name="gcbench", public=False,
                                               created_at=OLD))
        conn.execute(insert(s.repositories), [
            {"id": 1000 + r, "name": f"gcbench/repo{r}", "project_id": 1000, "created_at": OLD}
            for r in range(repos)])
        blob_rows, link_rows, manifest_rows, ref_rows, mlink_rows = [], [], [], [], []
        for m in range(manifests):
            repo_id = 1000 + m % repos
            children = []
            for b in range(per_manifest):
                data = f"blob {m} {b}".encode()
                digest = digest_of(data)
                encoded = digest.split(":")[1]
                path = root / "blobs" / "sha256" / encoded[:2] / encoded
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                blob_rows.append({"digest": digest, "size": len(data), "created_at": OLD})
                link_rows.append({"repository_id": repo_id, "digest": digest,
                                  "created_at": OLD})
                children.append(digest)
            body = f'{{"m": {m}}}'.encode()
            digest = digest_of(body)
            digests.append(digest)
            manifest_rows.append({"digest": digest, "media_type": MANIFEST, "size": len(body),
                                  "body": body, "created_at": OLD})
            ref_rows += [{"parent": digest, "child": c, "kind": "blob"} for c in children]
            mlink_rows.append({"repository_id": repo_id, "digest": digest, "pushed_at": OLD})
        for table, rows in ((s.blobs, blob_rows), (s.repository_blobs, link_rows),
                            (s.manifests, manifest_rows), (s.manifest_references, ref_rows),
                            (s.repository_manifests, mlink_rows)):
            conn.execute(insert(table), rows)
        conn.execute(insert(s.tags), [
            {"repository_id": 1000 + m % repos, "name": f"t{m}", "digest": d, "updated_at": OLD}
            for m, d in enumerate(digests)])
    engine.dispose()
    return digests


def collector(data_dir: Path) -> tuple[GarbageCollector, Any]:
    engine = make_engine(f"sqlite:///{data_dir / 'wharf.db'}")
    store = LifecycleStore(engine)
    return GarbageCollector(store, FilesystemDriver(data_dir / "blobs"), len,
                            batch=500), engine


def time_gc(data_dir: Path, digests: list[str]) -> None:
    gc, engine = collector(data_dir)
    started = time.perf_counter()
    summary = gc.run(project=None, grace=timedelta(0))
    scan = time.perf_counter() - started
    print(f"GC, nothing to reclaim:  {scan:7.2f} s  (blobs deleted {summary.blobs_deleted})")
    doomed = digests[::2]
    with engine.begin() as conn:
        for start in range(0, len(doomed), 500):
            chunk = doomed[start:start + 500]
            conn.execute(delete(s.tags).where(s.tags.c.digest.in_(chunk)))
            conn.execute(delete(s.repository_manifests)
                         .where(s.repository_manifests.c.digest.in_(chunk)))
    started = time.perf_counter()
    summary = gc.run(project=None, grace=timedelta(0))
    reclaim = time.perf_counter() - started
    print(f"GC, reclaiming half:     {reclaim:7.2f} s  ({summary.manifests_deleted} manifests, "
          f"{summary.blobs_deleted} blobs, {summary.blob_links_removed} links, "
          f"{summary.bytes_freed} bytes; {summary.blobs_deleted / reclaim:,.0f} blobs/s)")
    engine.dispose()


def push_pull(url: str, auth: tuple[str, str], seconds: float, threads: int,
              gc_loop: bool) -> dict[str, float]:
    stop = time.monotonic() + seconds
    counts = {"push": 0, "pull": 0, "gc_runs": 0, "errors": 0}
    lock = threading.Lock()

    def worker(n: int) -> None:
        with httpx.Client(base_url=url, auth=auth, timeout=60) as client:
            i = 0
            while time.monotonic() < stop:
                i += 1
                repo = f"tput/w{n}"
                blobs = [os.urandom(64 << 10), f'{{"n": "{n}-{i}-{time.time()}"}}'.encode()]
                try:
                    for data in blobs:
                        loc = client.post(f"/v2/{repo}/blobs/uploads/").headers["Location"]
                        resp = client.put(loc, params={"digest": digest_of(data)}, content=data)
                        resp.raise_for_status()
                    manifest = json.dumps({
                        "schemaVersion": 2, "mediaType": MANIFEST,
                        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                   "digest": digest_of(blobs[1]), "size": len(blobs[1])},
                        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                    "digest": digest_of(blobs[0]), "size": len(blobs[0])}],
                    }).encode()
                    client.put(f"/v2/{repo}/manifests/v{i}", content=manifest,
                               headers={"Content-Type": MANIFEST}).raise_for_status()
                    with lock:
                        counts["push"] += 1
                    client.get(f"/v2/{repo}/manifests/v{i}").raise_for_status()
                    for data in blobs:
                        got = client.get(f"/v2/{repo}/blobs/{digest_of(data)}")
                        got.raise_for_status()
                    with lock:
                        counts["pull"] += 1
                except (httpx.HTTPError, KeyError):
                    with lock:
                        counts["errors"] += 1

    def collect() -> None:
        with httpx.Client(base_url=url, auth=auth, timeout=600) as client:
            while time.monotonic() < stop:
                run = client.post("/api/v1/gc/runs", json={"grace": "1h"}).json()
                while run["status"] in ("queued", "running"):
                    time.sleep(0.2)
                    run = client.get(f"/api/v1/gc/runs/{run['id']}").json()
                counts["gc_runs"] += 1

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    if gc_loop:
        pool.append(threading.Thread(target=collect))
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return {k: v / seconds if k in ("push", "pull") else v for k, v in counts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blobs", type=int, default=100_000)
    parser.add_argument("--manifests", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--gc-in-worker", action="store_true",
                        help="run jobs (GC) in a `wharf worker`, not in the server process")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wharf-gc-bench-") as tmp:
        workdir = Path(tmp)
        data_dir = workdir / "data"
        started = time.perf_counter()
        digests = build_store(data_dir, args.blobs, args.manifests)
        print(f"built {args.blobs} blobs / {args.manifests} manifests in "
              f"{time.perf_counter() - started:.1f} s")
        time_gc(data_dir, digests)
        env = {"WHARF_JOBS__IN_SERVER": "false"} if args.gc_in_worker else {}
        server = wharf_server(workdir, extra_env=env)
        server.start()
        worker = None
        if args.gc_in_worker:
            worker = subprocess.Popen(
                [wharf_executable(), "worker", "--data-dir", str(data_dir)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env={**os.environ, "WHARF_LOG_LEVEL": "warning",
                     "WHARF_JOBS__POLL_INTERVAL": "0.2"})
        try:
            assert server.credentials is not None
            httpx.post(f"{server.url}/api/v1/projects", json={"name": "tput"},
                       auth=server.credentials, timeout=30).raise_for_status()
            # Alternated, so load from elsewhere on the machine hits both alike.
            for label, loop in (("without GC", False), ("with GC looping", True)) * 2:
                figures = push_pull(server.url, server.credentials, args.seconds,
                                    args.threads, loop)
                print(f"{label:16s} push {figures['push']:6.1f}/s  pull {figures['pull']:6.1f}/s"
                      f"  errors {figures['errors']:.0f}  gc runs {figures['gc_runs']:.0f}")
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=30)
            server.stop()


if __name__ == "__main__":
    main()
