"""GC racing pushes and deletes for a bounded time, and GC killed mid-run.

Writers push images sharing base layers (checking with HEAD which blobs exist, as
clients do), a deleter removes images, GC loops with no grace period. A writer whose blobs
GC reclaimed between upload (or HEAD) and manifest PUT must get MANIFEST_BLOB_UNKNOWN and
retries; no PUT may ever succeed with a missing blob. Afterwards every image whose push
succeeded and that was not deleted pulls back complete and verified.
"""

from __future__ import annotations

import hashlib
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.lifecycle import (
    blob_files,
    gc,
    new_project,
    store_problems,
    unreferenced_rows,
)
from tests.support.oci import (
    OCI_CONFIG,
    OCI_LAYER,
    descriptor,
    manifest_json,
    random_bytes,
    random_config,
    sha256,
    upload_location,
    with_params,
)
from tests.support.server import WharfServer

DURATION = 20.0
WRITERS = 3
OCTET = {"Content-Type": "application/octet-stream"}


@dataclass
class Pushed:
    repo: str
    tag: str
    digest: str
    manifest: bytes
    blobs: dict[str, bytes]


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    pushed: list[Pushed] = field(default_factory=list)
    deleted: set[str] = field(default_factory=set)
    blob_unknown: int = 0
    gc_runs: int = 0
    errors: list[str] = field(default_factory=list)


def _upload(client: httpx.Client, repo: str, data: bytes) -> None:
    resp = client.post(f"/v2/{repo}/blobs/uploads/")
    assert resp.status_code == 202, resp.text
    resp = client.put(with_params(upload_location(resp), digest=sha256(data)), content=data,
                      headers=OCTET)
    assert resp.status_code == 201, resp.text


def _push(client: httpx.Client, repo: str, tag: str, base: list[bytes],
          tally: Tally) -> Pushed | None:
    config, own = random_config(), random_bytes(3000)
    layers = [*random.sample(base, 2), own]
    manifest = manifest_json(descriptor(OCI_CONFIG, config),
                             [descriptor(OCI_LAYER, x) for x in layers])
    blobs = {sha256(b): b for b in (config, *layers)}
    for _attempt in range(8):
        for digest, data in blobs.items():
            if client.head(f"/v2/{repo}/blobs/{digest}").status_code != 200:
                _upload(client, repo, data)
        resp = client.put(f"/v2/{repo}/manifests/{tag}", content=manifest,
                          headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        if resp.status_code == 201:
            return Pushed(repo, tag, sha256(manifest), manifest, blobs)
        if resp.status_code == 400 and "MANIFEST_BLOB_UNKNOWN" in resp.text:
            with tally.lock:
                tally.blob_unknown += 1
            continue
        tally.errors.append(f"PUT {repo}:{tag}: {resp.status_code} {resp.text[:200]}")
        return None
    return None


def _writer(url: str, auth: httpx.Auth, project: str, n: int, base: list[bytes],
            stop: float, tally: Tally) -> None:
    with httpx.Client(base_url=url, auth=auth, timeout=60) as client:
        count = 0
        while time.monotonic() < stop:
            count += 1
            try:
                pushed = _push(client, f"{project}/app{n % 2}", f"w{n}-{count}", base, tally)
            except (AssertionError, httpx.HTTPError) as exc:
                tally.errors.append(f"writer {n}: {exc}")
                return
            if pushed is not None:
                with tally.lock:
                    tally.pushed.append(pushed)


def _deleter(url: str, auth: httpx.Auth, stop: float, tally: Tally) -> None:
    with httpx.Client(base_url=url, auth=auth, timeout=60) as client:
        while time.monotonic() < stop:
            time.sleep(0.2)
            with tally.lock:
                candidates = [p for p in tally.pushed if p.digest not in tally.deleted]
                victim = random.choice(candidates) if candidates else None
                if victim is not None:
                    tally.deleted.add(victim.digest)
            if victim is not None:
                resp = client.delete(f"/v2/{victim.repo}/manifests/{victim.digest}")
                if resp.status_code != 202:
                    tally.errors.append(f"DELETE {victim.digest}: {resp.status_code}")


def _collector(url: str, auth: httpx.Auth, project: str, stop: float, tally: Tally) -> None:
    with httpx.Client(base_url=url, auth=auth, timeout=60) as client:
        while time.monotonic() < stop:
            try:
                # Mostly this project; every third run the whole registry (orphan sweep).
                gc(client, None if tally.gc_runs % 3 == 2 else project)
            except (AssertionError, httpx.HTTPError) as exc:
                tally.errors.append(f"gc: {exc}")
                return
            tally.gc_runs += 1


def test_gc_racing_pushes_and_deletes(own_server: WharfServer) -> None:
    url, auth = own_server.url, own_server.auth
    with httpx.Client(base_url=url, auth=auth, timeout=60) as client:
        project = new_project(client, "stress")
    base = [random_bytes(8192) for _ in range(4)]
    tally = Tally()
    stop = time.monotonic() + DURATION
    threads = [threading.Thread(target=_writer, args=(url, auth, project, n, base, stop, tally))
               for n in range(WRITERS)]
    threads.append(threading.Thread(target=_deleter, args=(url, auth, stop, tally)))
    threads.append(threading.Thread(target=_collector, args=(url, auth, project, stop, tally)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert tally.errors == []
    assert tally.gc_runs >= 3
    assert len(tally.pushed) >= 10

    with httpx.Client(base_url=url, auth=auth, timeout=60) as client:
        gc(client, None)
        for image in tally.pushed:
            resp = client.get(f"/v2/{image.repo}/manifests/{image.tag}")
            if image.digest in tally.deleted:
                assert resp.status_code == 404, image.tag
                continue
            assert resp.status_code == 200, (image.tag, resp.text)
            assert resp.content == image.manifest
            for digest in image.blobs:
                blob = client.get(f"/v2/{image.repo}/blobs/{digest}")
                assert blob.status_code == 200, (image.tag, digest)
                assert "sha256:" + hashlib.sha256(blob.content).hexdigest() == digest
    assert store_problems(own_server.data_dir, orphans_allowed=False) == []
    assert unreferenced_rows(own_server.data_dir) == []
    print(f"\nstress: {len(tally.pushed)} pushes, {len(tally.deleted)} deletes, "
          f"{tally.gc_runs} GC runs, {tally.blob_unknown} PUTs refused with "
          "MANIFEST_BLOB_UNKNOWN and retried")


def test_server_killed_during_gc(tmp_path: Path) -> None:
    # Small batches: many short transactions, so the kill lands mid-run.
    server = WharfServer(data_dir=tmp_path / "data", env={"WHARF_GC__BATCH_SIZE": "1"})
    server.start()
    try:
        with httpx.Client(base_url=server.url, auth=server.auth, timeout=60) as client:
            project = new_project(client, "kill")
            repo = f"{project}/app"
            digests: list[str] = []
            for n in range(25):
                layers = [random_bytes(1024) for _ in range(3)]
                config = random_config()
                for data in (config, *layers):
                    _upload(client, repo, data)
                manifest = manifest_json(descriptor(OCI_CONFIG, config),
                                         [descriptor(OCI_LAYER, x) for x in layers])
                resp = client.put(f"/v2/{repo}/manifests/t{n}", content=manifest,
                                  headers={"Content-Type":
                                           "application/vnd.oci.image.manifest.v1+json"})
                assert resp.status_code == 201, resp.text
                digests.append(sha256(manifest))
            for digest in digests[1:]:
                assert client.delete(f"/v2/{repo}/manifests/{digest}").status_code == 202
        phases = []
        for delay in (0.05, 0.2, 0.5):
            with httpx.Client(base_url=server.url, auth=server.auth, timeout=60) as client:
                run = client.post("/api/v1/gc/runs", json={"grace": "0s"}).json()
                while client.get(f"/api/v1/gc/runs/{run['id']}").json()["status"] == "queued":
                    time.sleep(0.01)
                time.sleep(delay)
            server.stop(signal.SIGKILL)
            # Whatever the kill interrupted: no row names missing bytes.
            assert store_problems(server.data_dir) == []
            server.start()
            with httpx.Client(base_url=server.url, auth=server.auth, timeout=60) as client:
                killed = client.get(f"/api/v1/gc/runs/{run['id']}").json()
                phases.append((killed["status"], killed["phase"]))
        print(f"\nkilled gc runs (status, phase): {phases}")
        assert any(status == "running" for status, _ in phases)  # a kill landed mid-run
        with httpx.Client(base_url=server.url, auth=server.auth, timeout=60) as client:
            gc(client, None)
            assert client.get(f"/v2/{repo}/manifests/t0").status_code == 200
            for digest in digests[1:]:
                assert client.get(f"/v2/{repo}/manifests/{digest}").status_code == 404
        assert store_problems(server.data_dir, orphans_allowed=False) == []
        assert unreferenced_rows(server.data_dir) == []
        assert len(blob_files(server.data_dir)) == 4  # t0's config and three layers
    finally:
        server.stop()
