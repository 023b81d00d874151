"""Hostile paths: `..`, encoded dots and slashes in names, references and digests.

Each request must be refused (400 or 404), never succeed and never crash the server, and
afterwards nothing may exist outside the server's data directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from tests.support.oci import (
    make_image,
    push_image,
    raw_request,
    sha256,
    unique_repo,
)
from tests.support.server import WharfServer

MARKER = f"wharf-traversal-{uuid4().hex[:12]}"
DIGEST = sha256(b"payload")


def hostile_requests(repo: str) -> Iterator[tuple[str, str]]:
    """(method, raw request target) pairs, each an attempt to leave the repository."""
    for up in ("..", "%2e%2e", "%2E%2E", ".%2e", "%252e%252e"):
        yield "POST", f"/v2/conf/{up}/{up}/{up}/{MARKER}/blobs/uploads/"
        yield "GET", f"/v2/conf/{up}/{up}/{up}/etc/passwd/tags/list"
        yield "GET", f"/v2/{repo}/{up}/{up}/{up}/{up}/etc/blobs/{DIGEST}"
    for slash in ("%2F", "%2f", "%5C", "%252F"):
        yield "POST", f"/v2/conf{slash}..{slash}..{slash}{MARKER}/blobs/uploads/"
        yield "PUT", f"/v2/{repo}/manifests/..{slash}..{slash}{MARKER}"
        yield "GET", f"/v2/{repo}/manifests/..{slash}..{slash}..{slash}etc{slash}passwd"
        yield "GET", f"/v2/{repo}/blobs/uploads/..{slash}..{slash}..{slash}etc{slash}passwd"
        yield "PUT", f"/v2/{repo}/blobs/uploads/..{slash}..{slash}{MARKER}?digest={DIGEST}"
        yield "GET", f"/v2/{repo}/blobs/sha256:..{slash}..{slash}..{slash}etc{slash}passwd"
    yield "GET", "/v2/../../../../etc/passwd"
    yield "GET", f"/v2/{repo}/blobs/sha256:../../../../etc/passwd"
    yield "HEAD", f"/v2/{repo}/blobs/sha256:../../../../etc/passwd"
    yield "DELETE", f"/v2/{repo}/blobs/sha256:../../{MARKER}"
    yield "GET", f"/v2/{repo}/manifests/sha256:../../../etc/passwd"
    yield "PUT", f"/v2/{repo}/manifests/sha256:../../{MARKER}"
    yield "DELETE", f"/v2/{repo}/manifests/sha256:..%2F..%2F{MARKER}"
    yield "GET", f"/v2/{repo}/referrers/sha256:..%2F..%2F..%2Fetc%2Fpasswd"
    yield "POST", f"/v2/{repo}/blobs/uploads/?digest=sha256:..%2F..%2F{MARKER}"
    yield "POST", f"/v2/conf/./{MARKER}/blobs/uploads/"
    yield "POST", f"/v2/conf/{MARKER}/./blobs/uploads/"
    yield "POST", f"/v2//etc/{MARKER}/blobs/uploads/"
    yield "POST", f"/v2/conf/{MARKER}%00/blobs/uploads/"


@pytest.mark.parametrize(
    "target",
    ["/v2/conf/traversal/app/tags/list?last=../../../etc/passwd",
     "/v2/_catalog?last=../../../../etc/passwd"],
)
def test_dots_in_last_are_just_a_string(server: WharfServer, target: str) -> None:
    resp = raw_request("127.0.0.1", server.port, "GET", target)
    assert resp.status in (200, 404), resp
    assert b"root:" not in resp.body


def test_mount_of_hostile_digest_is_refused_or_falls_back(server: WharfServer) -> None:
    """A mount with a bad digest may fall back to a plain upload (spec), nothing more."""
    repo = unique_repo()
    target = f"/v2/{repo}/blobs/uploads/?mount=sha256:../../etc/passwd&from=conf/traversal/app"
    resp = raw_request("127.0.0.1", server.port, "POST", target)
    assert resp.status in (202, 400), resp
    if resp.status == 202:
        assert f"/v2/{repo}/blobs/uploads/" in resp.headers["location"]


def marker_paths(roots: list[Path], depth: int = 4) -> list[Path]:
    """Paths named after MARKER under `roots` (walked `depth` levels deep)."""
    found: list[Path] = []
    for root in roots:
        base_depth = len(root.parts)
        for dirpath, dirnames, filenames in os.walk(root):
            here = Path(dirpath)
            found += [here / n for n in (*dirnames, *filenames) if MARKER in n]
            if len(here.parts) - base_depth >= depth:
                dirnames.clear()
    return found


HOSTILE = list(hostile_requests("conf/traversal/app"))


@pytest.mark.parametrize("method_and_target", HOSTILE, ids=[f"{m} {t}" for m, t in HOSTILE])
def test_hostile_request_is_refused(
    server: WharfServer, method_and_target: tuple[str, str]
) -> None:
    method, target = method_and_target
    body = make_image().manifest if method == "PUT" else b"payload"
    headers = {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
    resp = raw_request("127.0.0.1", server.port, method, target, body=body, headers=headers)
    assert resp.status in (400, 404), f"{method} {target}: {resp.status} {resp.body[:300]!r}"
    assert b"root:" not in resp.body


def test_nothing_written_outside_data_dir(own_server: WharfServer) -> None:
    # A repository that exists, so hostile paths under it get past "unknown repository".
    repo = unique_repo()
    with httpx.Client(base_url=own_server.url, timeout=30, auth=own_server.auth) as client:
        push_image(client, repo)
    data_dir = own_server.data_dir
    before_parent = set(data_dir.parent.iterdir())

    for method, target in hostile_requests(repo):
        body = make_image().manifest if method == "PUT" else b"payload"
        headers = {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
        resp = raw_request("127.0.0.1", own_server.port, method, target, body, headers)
        assert resp.status < 500, f"{method} {target}: {resp.status} {resp.body[:300]!r}"
        assert resp.status not in (200, 201, 202, 204), f"{method} {target}: {resp.status}"

    after_parent = set(data_dir.parent.iterdir())
    assert after_parent == before_parent
    assert {p.name for p in after_parent} <= {data_dir.name, f"wharf-{own_server.port}.log"}
    roots = [data_dir.parent, data_dir.parent.parent, Path("/tmp"), Path("/etc")]
    assert marker_paths(roots) == []
    # Inside the data directory nothing may be named after the attacker's marker either:
    # a name containing it would have been accepted somewhere.
    assert marker_paths([data_dir], depth=50) == []

    # The server is still healthy.
    with httpx.Client(base_url=own_server.url, timeout=30, auth=own_server.auth) as client:
        assert client.get("/v2/").status_code == 200
        assert client.get(f"/v2/{repo}/tags/list").json()["tags"] == ["latest"]


def test_session_server_wrote_only_inside_its_data_dir(server: WharfServer) -> None:
    """Runs after the hostile requests above, against the same shared server."""
    parent = server.data_dir.parent
    names = {p.name for p in parent.iterdir()}
    assert names <= {server.data_dir.name, f"wharf-{server.port}.log"}, names
    assert marker_paths([parent, parent.parent]) == []
