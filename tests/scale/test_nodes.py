"""Several nodes, one registry: sessions, tags and periodic work shared through the
database and the object store, never through a node."""

from __future__ import annotations

import hashlib
import itertools
import time
import uuid
from datetime import timedelta

import httpx
import psycopg
import pytest

from tests.scale.conftest import PROJECT, Cluster
from tests.support.oci import make_image, push_image, upload_location, with_params

pytestmark = pytest.mark.scale

MiB = 1 << 20
OCTET = {"Content-Type": "application/octet-stream"}


def repo() -> str:
    return f"{PROJECT}/{uuid.uuid4().hex[:8]}"


def data(size: int, seed: str) -> bytes:
    block = hashlib.sha256(seed.encode()).digest() * 2048
    return (block * (size // len(block) + 1))[:size]


def test_one_upload_spread_over_three_nodes(cluster: Cluster) -> None:
    a, b, c = (cluster.client(n) for n in cluster.nodes)
    name = repo()
    blob = data(3 * MiB + 6 * MiB + 1 + 9 * MiB + 5, name)
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    try:
        resp = a.post(f"/v2/{name}/blobs/uploads/")
        assert resp.status_code == 202
        location = upload_location(resp)
        offset = 0
        # PATCHes of uneven sizes, each on another node; each node sees the offset the
        # previous one left, from the store alone.
        for client, size in ((b, 3 * MiB), (c, 6 * MiB), (a, 1), (b, 9 * MiB)):
            status = client.get(location)
            assert status.status_code == 204
            assert status.headers["Range"] == f"0-{max(offset - 1, 0)}"
            chunk = blob[offset:offset + size]
            resp = client.patch(location, content=chunk, headers={
                **OCTET, "Content-Range": f"{offset}-{offset + size - 1}"})
            assert resp.status_code == 202, resp.text
            offset += size
            assert resp.headers["Range"] == f"0-{offset - 1}"
            location = upload_location(resp)
        resp = c.put(with_params(location, digest=digest), content=blob[offset:],
                     headers=OCTET)
        assert resp.status_code == 201, resp.text
        got = b.get(f"/v2/{name}/blobs/{digest}")
        assert got.status_code == 200
        assert hashlib.sha256(got.content).hexdigest() == digest.split(":")[1]
        part = a.get(f"/v2/{name}/blobs/{digest}", headers={"Range": "bytes=9437180-9437190"})
        assert part.status_code == 206
        assert part.content == blob[9437180:9437191]
    finally:
        for client in (a, b, c):
            client.close()


def test_a_tag_moved_on_one_node_is_seen_on_the_others_at_once(cluster: Cluster) -> None:
    a, *others = (cluster.client(n) for n in cluster.nodes)
    name = repo()
    try:
        for _ in range(5):
            image = push_image(a, name, "current", make_image())
            for client in others:
                resp = client.get(f"/v2/{name}/manifests/current",
                                  headers={"Accept": image.media_type})
                assert resp.status_code == 200
                assert resp.headers["Docker-Content-Digest"] == image.digest
    finally:
        for client in (a, *others):
            client.close()


def job_runs(cluster: Cluster, kind: str) -> list[tuple[float, str]]:
    with psycopg.connect(cluster.pg.dsn(cluster.database)) as conn:
        rows = conn.execute(
            "SELECT created_at, coalesce(lease_owner, '') FROM jobs WHERE kind = %s "
            "ORDER BY created_at", (kind,)).fetchall()
    return [(r[0].timestamp(), r[1]) for r in rows]


def test_periodic_work_runs_once_across_the_cluster(cluster: Cluster) -> None:
    interval = 1.0  # PURGE_INTERVAL
    time.sleep(5 * interval)
    runs = job_runs(cluster, "uploads.purge")
    with psycopg.connect(cluster.pg.dsn(cluster.database)) as conn:
        owners = {r[0] for r in conn.execute(
            "SELECT DISTINCT last_owner FROM schedules WHERE name = 'uploads.purge'")}
    recent = [t for t, _ in runs if t > time.time() - 4 * interval]
    # Three nodes tick five times a second each; one run per interval means exactly that.
    assert 2 <= len(recent) <= 5, recent
    gaps = [b - a for a, b in itertools.pairwise(recent)]
    assert all(gap >= interval * 0.9 for gap in gaps), gaps
    assert owners  # somebody ran it


def test_abandoned_upload_is_purged_with_its_multipart_upload(cluster: Cluster) -> None:
    name = repo()
    with cluster.client() as client:
        resp = client.post(f"/v2/{name}/blobs/uploads/")
        location = upload_location(resp)
        session = location.rstrip("/").rsplit("/", 1)[-1]
        # Past one part (8 MiB), so S3 holds an unfinished multipart upload for it.
        resp = client.patch(location, content=data(9 * MiB, name), headers=OCTET)
        assert resp.status_code == 202
        s3 = cluster.moto.client()
        prefix = f"registry/_open/uploads/{session}/"

        def leftovers() -> tuple[int, int]:
            objects = s3.list_objects_v2(Bucket=cluster.bucket, Prefix=prefix).get(
                "KeyCount", 0)
            uploads = [u for u in s3.list_multipart_uploads(Bucket=cluster.bucket).get(
                "Uploads", []) if u["Key"].startswith(prefix)]
            return objects, len(uploads)

        assert leftovers() == (2, 1)  # state and tail objects, and the multipart upload
        deadline = time.monotonic() + timedelta(seconds=30).total_seconds()
        while client.get(location).status_code != 404:
            assert time.monotonic() < deadline, "upload session was not purged"
            time.sleep(0.5)
        assert leftovers() == (0, 0)


def test_every_node_serves_every_blob(cluster: Cluster) -> None:
    name = repo()
    with cluster.client() as lb:
        image = push_image(lb, name, "x", make_image(layer_count=3, layer_size=300_000))
    for node in cluster.nodes:
        with httpx.Client(base_url=node.url, auth=cluster.auth, timeout=30) as c:
            for layer, digest in zip(image.layers, image.layer_digests, strict=True):
                assert c.get(f"/v2/{name}/blobs/{digest}").content == layer
