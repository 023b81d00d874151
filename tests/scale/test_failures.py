"""Failures a cluster must ride out: a node killed mid-push, the database gone a while."""

from __future__ import annotations

import hashlib
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx
import pytest

from tests.scale.conftest import PROJECT, Cluster
from tests.scale.test_nodes import job_runs
from tests.support.oci import Image, make_image, upload_location, with_params

pytestmark = pytest.mark.scale

MiB = 1 << 20
OCTET = {"Content-Type": "application/octet-stream"}


@dataclass
class Push:
    name: str
    image: Image
    statuses: list[int] = field(default_factory=list)
    error: str | None = None

    @property
    def acknowledged(self) -> bool:
        return bool(self.statuses) and self.statuses[-1] == 201 and self.error is None


def push(client: httpx.Client, record: Push, chunk: int = MiB) -> Push:
    """Push an image with chunked uploads, recording every status; stops at the first
    failure (a refused or broken request counts as one)."""
    try:
        for blob in (record.image.config, *record.image.layers):
            digest = "sha256:" + hashlib.sha256(blob).hexdigest()
            resp = client.post(f"/v2/{record.name}/blobs/uploads/")
            record.statuses.append(resp.status_code)
            if resp.status_code != 202:
                return record
            location = upload_location(resp)
            for start in range(0, len(blob), chunk):
                piece = blob[start:start + chunk]
                resp = client.patch(location, content=piece, headers={
                    **OCTET, "Content-Range": f"{start}-{start + len(piece) - 1}"})
                record.statuses.append(resp.status_code)
                if resp.status_code != 202:
                    return record
                location = upload_location(resp)
            resp = client.put(with_params(location, digest=digest), headers=OCTET)
            record.statuses.append(resp.status_code)
            if resp.status_code != 201:
                return record
        resp = client.put(f"/v2/{record.name}/manifests/v1", content=record.image.manifest,
                          headers={"Content-Type": record.image.media_type})
        record.statuses.append(resp.status_code)
    except httpx.HTTPError as exc:
        record.error = f"{type(exc).__name__}: {exc}"
    return record


def assert_pulls_back(client: httpx.Client, record: Push) -> None:
    """The manifest and every blob, digest-verified."""
    image = record.image
    resp = client.get(f"/v2/{record.name}/manifests/v1", headers={"Accept": image.media_type})
    assert resp.status_code == 200, resp.text
    assert hashlib.sha256(resp.content).hexdigest() == image.digest.split(":")[1]
    for blob in (image.config, *image.layers):
        digest = hashlib.sha256(blob).hexdigest()
        got = client.get(f"/v2/{record.name}/blobs/sha256:{digest}")
        assert got.status_code == 200
        assert hashlib.sha256(got.content).hexdigest() == digest


def pushers(cluster: Cluster, stop: threading.Event, records: list[Push],
            threads: int = 4, layer_size: int = 3 * MiB) -> list[threading.Thread]:
    lock = threading.Lock()

    def loop() -> None:
        with cluster.client(timeout=30) as client:
            while not stop.is_set():
                record = Push(f"{PROJECT}/kill/{uuid.uuid4().hex[:8]}",
                              make_image(layer_count=2, layer_size=layer_size))
                push(client, record)
                with lock:
                    records.append(record)
                if not record.acknowledged:
                    stop.wait(0.5)  # as a client backs off after a 503

    workers = [threading.Thread(target=loop, daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    return workers


def wait_until(check: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if callable(check) and check():
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.3)


def test_sigkill_a_node_in_the_middle_of_pushes(cluster: Cluster) -> None:
    victim = cluster.nodes[1]
    survivors = [cluster.nodes[0], cluster.nodes[2]]
    records: list[Push] = []
    stop = threading.Event()
    workers = pushers(cluster, stop, records)
    try:
        time.sleep(2.0)
        victim.stop(signal.SIGKILL)
        time.sleep(3.0)
    finally:
        stop.set()
        for w in workers:
            w.join(60)
    acknowledged = [r for r in records if r.acknowledged]
    interrupted = [r for r in records if not r.acknowledged]
    assert acknowledged, [r.statuses for r in records]
    print(f"{len(acknowledged)} pushes acknowledged, {len(interrupted)} interrupted")
    # No push saw a server error of its own making: only the dead node's broken requests.
    for r in records:
        assert 500 not in r.statuses, r
    # Every acknowledged push is whole on the nodes that are left.
    for i, record in enumerate(acknowledged):
        with cluster.client(survivors[i % 2]) as client:
            assert_pulls_back(client, record)
    # An interrupted push is retried through the balancer, and then it is whole as well.
    with cluster.client() as client:
        for record in interrupted:
            retry = push(client, Push(record.name, record.image))
            assert retry.acknowledged, retry
            assert_pulls_back(client, retry)
    victim.start()
    wait_until(lambda: httpx.get(f"{victim.url}/v2/", timeout=2).status_code in (200, 401), 30)
    with cluster.client(victim) as client:
        for record in acknowledged[:3]:
            assert_pulls_back(client, record)


def test_database_outage_gives_503_and_nodes_recover(cluster: Cluster) -> None:
    records: list[Push] = []
    stop = threading.Event()
    with cluster.client() as client:
        seed = push(client, Push(f"{PROJECT}/outage/seed", make_image()))
    assert seed.acknowledged, seed
    pulls: list[httpx.Response | str] = []

    def puller() -> None:
        with cluster.client(timeout=30) as client:
            while not stop.is_set():
                try:
                    pulls.append(client.get(f"/v2/{seed.name}/manifests/v1",
                                            headers={"Accept": seed.image.media_type}))
                except httpx.HTTPError as exc:
                    pulls.append(f"{type(exc).__name__}: {exc}")
                time.sleep(0.05)

    workers = [*pushers(cluster, stop, records, threads=2, layer_size=512 * 1024),
               threading.Thread(target=puller, daemon=True)]
    workers[-1].start()
    try:
        time.sleep(1.0)
        cluster.pg.stop("fast")
        time.sleep(4.0)
        cluster.pg.start()
        back = time.time()

        def all_nodes_serve() -> bool:
            for node in cluster.nodes:
                resp = httpx.get(f"{node.url}/v2/{seed.name}/manifests/v1",
                                 headers={"Accept": seed.image.media_type},
                                 auth=cluster.auth, timeout=5)
                if resp.status_code != 200:
                    return False
            return True

        wait_until(all_nodes_serve, 30)
        time.sleep(1.0)
    finally:
        stop.set()
        for w in workers:
            w.join(60)
    responses = [p for p in pulls if isinstance(p, httpx.Response)]
    statuses = [r.status_code for r in responses] + [s for r in records for s in r.statuses]
    assert 500 not in statuses
    unavailable = [r for r in responses if r.status_code == 503]
    assert unavailable, "the outage was not seen"
    for resp in unavailable:
        if resp.headers.get("content-type", "").startswith("application/json"):
            assert resp.json()["errors"][0]["code"] == "UNAVAILABLE"
            assert resp.headers["Retry-After"]
    assert all(s in (200, 201, 202, 503) for s in statuses), sorted(set(statuses))
    # Whatever was acknowledged is whole; whatever was refused can be pushed again.
    with cluster.client() as client:
        for record in records:
            if record.acknowledged:
                assert_pulls_back(client, record)
            else:
                retry = push(client, Push(record.name, record.image))
                assert retry.acknowledged, retry
                assert_pulls_back(client, retry)
    # The job runners came back too: periodic work runs again after the outage.
    wait_until(lambda: any(t > back for t, _ in job_runs(cluster, "uploads.purge")), 30)
