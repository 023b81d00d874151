"""Helpers for retention and GC tests: projects, GC runs, and store consistency checks."""

from __future__ import annotations

import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import httpx


def new_project(client: httpx.Client, prefix: str = "lc") -> str:
    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    resp = client.post("/api/v1/projects", json={"name": name})
    assert resp.status_code == 201, resp.text
    return name


def gc(client: httpx.Client, project: str | None = None, grace: str | None = "0s",
       dry_run: bool = False, timeout: float = 120) -> dict[str, Any]:
    """Request a GC run and wait until it ends; returns the finished run."""
    resp = client.post("/api/v1/gc/runs",
                       json={"project": project, "grace": grace, "dry_run": dry_run})
    assert resp.status_code == 202, resp.text
    run: dict[str, Any] = resp.json()
    deadline = time.monotonic() + timeout
    while run["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, f"gc run did not finish: {run}"
        time.sleep(0.05)
        resp = client.get(f"/api/v1/gc/runs/{run['id']}")
        assert resp.status_code == 200, resp.text
        run = resp.json()
    assert run["status"] == "done", run
    return run


def blob_path(data_dir: Path, digest: str) -> Path:
    algorithm, encoded = digest.split(":", 1)
    return data_dir / "blobs" / "blobs" / algorithm / encoded[:2] / encoded


def blob_root(data_dir: Path) -> Path:
    return data_dir / "blobs" / "blobs"


def store_problems(data_dir: Path, *, orphans_allowed: bool = True) -> list[str]:
    """What is inconsistent between the metadata database and the blob files: a row naming
    missing (or wrong-sized) bytes, a reference to a missing row, and (unless allowed)
    bytes no row names."""
    problems: list[str] = []
    db = sqlite3.connect(f"file:{data_dir / 'wharf.db'}?mode=ro", uri=True, timeout=30)
    try:
        rows = dict(db.execute("SELECT digest, size FROM blobs").fetchall())
        for digest, size in rows.items():
            path = blob_path(data_dir, digest)
            if not path.is_file():
                problems.append(f"blob row without bytes: {digest}")
            elif path.stat().st_size != size:
                problems.append(f"blob {digest}: {path.stat().st_size} bytes, row says {size}")
        for (digest,) in db.execute(
                "SELECT digest FROM repository_blobs WHERE digest NOT IN "
                "(SELECT digest FROM blobs)"):
            problems.append(f"link to missing blob row: {digest}")
        for (digest,) in db.execute(
                "SELECT digest FROM repository_manifests WHERE digest NOT IN "
                "(SELECT digest FROM manifests)"):
            problems.append(f"link to missing manifest row: {digest}")
        for parent, child in db.execute(
                "SELECT r.parent, r.child FROM manifest_references r "
                "JOIN repository_manifests m ON m.digest = r.parent "
                "WHERE r.kind = 'blob' AND r.child NOT IN (SELECT digest FROM blobs)"):
            problems.append(f"linked manifest {parent} names missing blob {child}")
    finally:
        db.close()
    if not orphans_allowed:
        root = blob_root(data_dir)
        for path in root.rglob("*") if root.exists() else []:
            if path.is_file():
                digest = f"{path.parent.parent.name}:{path.name}"
                if digest not in rows:
                    problems.append(f"bytes without a row: {digest}")
    return problems


def blob_files(data_dir: Path) -> set[str]:
    root = blob_root(data_dir)
    return {f"{p.parent.parent.name}:{p.name}" for p in root.rglob("*") if p.is_file()}


def unreferenced_rows(data_dir: Path) -> list[str]:
    """Content nothing references any more (what a GC with no grace must leave none of)."""
    queries = {
        "blob link no manifest of its repository references":
            "SELECT rb.digest FROM repository_blobs rb WHERE NOT EXISTS ("
            " SELECT 1 FROM manifest_references r JOIN repository_manifests m"
            " ON m.digest = r.parent AND m.repository_id = rb.repository_id"
            " WHERE r.child = rb.digest AND r.kind = 'blob')",
        "manifest row no repository links":
            "SELECT digest FROM manifests WHERE digest NOT IN "
            "(SELECT digest FROM repository_manifests)",
        "blob row no repository links":
            "SELECT digest FROM blobs WHERE digest NOT IN (SELECT digest FROM repository_blobs)",
        "referrer whose subject is gone":
            "SELECT m.digest FROM manifests m JOIN repository_manifests rm ON rm.digest = m.digest"
            " WHERE m.subject IS NOT NULL AND NOT EXISTS (SELECT 1 FROM repository_manifests s"
            " WHERE s.digest = m.subject AND s.repository_id = rm.repository_id)",
    }
    db = sqlite3.connect(f"file:{data_dir / 'wharf.db'}?mode=ro", uri=True, timeout=30)
    try:
        return [f"{what}: {row[0]}" for what, sql in queries.items()
                for row in db.execute(sql).fetchall()]
    finally:
        db.close()
