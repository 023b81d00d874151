"""Server-level behaviour: several worker processes on one store, purge of stale uploads."""

from __future__ import annotations

import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.server import WharfServer


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _push_chunked(client: httpx.Client, repo: str, data: bytes, chunk: int) -> str:
    r = client.post(f"/v2/{repo}/blobs/uploads/")
    assert r.status_code == 202, r.text
    location = r.headers["Location"]
    for start in range(0, len(data), chunk):
        part = data[start:start + chunk]
        r = client.patch(location, content=part, headers={
            "Content-Range": f"{start}-{start + len(part) - 1}",
            "Content-Type": "application/octet-stream"})
        assert r.status_code == 202, r.text
        location = r.headers["Location"]
    r = client.put(location, params={"digest": _digest(data)})
    assert r.status_code == 201, r.text
    return _digest(data)


@pytest.fixture
def two_workers(tmp_path: Path) -> WharfServer:
    srv = WharfServer(data_dir=tmp_path / "data", extra_args=["--workers", "2"])
    srv.start()
    yield srv  # type: ignore[misc]
    srv.stop()


def test_two_worker_processes_share_one_store(two_workers: WharfServer) -> None:
    blobs = [os.urandom(300_000 + i) for i in range(8)]

    def push(i: int) -> str:
        # A fresh connection per request spreads one upload's chunks over both workers.
        with httpx.Client(base_url=two_workers.url, timeout=30, auth=two_workers.auth,
                          limits=httpx.Limits(max_keepalive_connections=0)) as c:
            return _push_chunked(c, f"multi/w{i % 3}", blobs[i], 64_000)

    with ThreadPoolExecutor(max_workers=8) as pool:
        digests = list(pool.map(push, range(len(blobs))))
    with httpx.Client(base_url=two_workers.url, timeout=30, auth=two_workers.auth) as c:
        for i, digest in enumerate(digests):
            r = c.get(f"/v2/multi/w{i % 3}/blobs/{digest}")
            assert r.status_code == 200
            assert r.content == blobs[i]
        assert c.get("/v2/_catalog").json()["repositories"] == ["multi/w0", "multi/w1",
                                                                  "multi/w2"]


def test_abandoned_uploads_are_purged(tmp_path: Path) -> None:
    srv = WharfServer(data_dir=tmp_path / "data",
                      env={"WHARF_UPLOAD_TTL": "1", "WHARF_PURGE_INTERVAL": "0.5"})
    srv.start()
    try:
        with httpx.Client(base_url=srv.url, timeout=30, auth=srv.auth) as c:
            r = c.post("/v2/purge/app/blobs/uploads/")
            location = r.headers["Location"]
            assert c.patch(location, content=b"x" * 1000).status_code == 202
            uploads = srv.data_dir / "blobs" / "uploads"
            assert any(uploads.iterdir())
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and c.get(location).status_code != 404:
                time.sleep(0.2)
            r = c.get(location)
            assert r.status_code == 404
            assert r.json()["errors"][0]["code"] == "BLOB_UPLOAD_UNKNOWN"
            assert not any(uploads.iterdir())
    finally:
        srv.stop()
