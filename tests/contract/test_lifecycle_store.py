"""GC against concurrent pushes on SQLite and PostgreSQL: the row locks and re-checks of
wharf.metadata.lifecycle_store must leave no linked manifest naming a missing blob."""

from __future__ import annotations

import json
import os
import random
import threading
import time
from datetime import timedelta

from wharf.lifecycle.gc import GarbageCollector
from wharf.metadata.lifecycle_store import LifecycleStore
from wharf.metadata.store import MetadataStore
from wharf.oci import mediatypes as mt
from wharf.oci.digest import Digest
from wharf.oci.manifest import parse_manifest
from wharf.storage import keys
from wharf.storage.memory import MemoryDriver

SECONDS = 4.0


def _manifest(blobs: list[bytes]) -> bytes:
    config, *layers = blobs
    return json.dumps({
        "schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": str(Digest.of(config)), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": str(Digest.of(x)), "size": len(x)} for x in layers],
    }).encode()


def test_gc_with_no_grace_racing_pushes(meta: MetadataStore) -> None:
    driver = MemoryDriver()
    store = LifecycleStore(meta.engine)
    gc = GarbageCollector(store, driver, lambda ids: 0, lambda project: [], batch=7)
    repo = meta.ensure_repository("acme/app", "acme")
    assert repo is not None
    shared = [os.urandom(64) for _ in range(3)]
    stop = time.monotonic() + SECONDS
    pushed: list[tuple[str, list[bytes]]] = []
    refused = [0]
    errors: list[BaseException] = []

    def push(n: int) -> None:
        try:
            i = 0
            while time.monotonic() < stop:
                i += 1
                blobs = [os.urandom(32), random.choice(shared), os.urandom(48)]
                for data in blobs:
                    digest = Digest.of(data)
                    # Shared blobs are only "HEADed" when present: the race the issue names.
                    if meta.blob_size_in_repository(repo, str(digest)) is None:
                        meta.link_blob(repo, str(digest), len(data),
                                       lambda d=digest, b=data: driver.put(keys.blob(d), b))
                body = _manifest(blobs)
                manifest = parse_manifest(body, mt.OCI_MANIFEST)
                if meta.put_manifest(repo, manifest, body, f"t{n}-{i}"):
                    refused[0] += 1
                else:
                    pushed.append((str(manifest.digest), blobs))
        except BaseException as exc:
            errors.append(exc)

    def collect() -> None:
        try:
            while time.monotonic() < stop:
                gc.run(project="acme", grace=timedelta(0))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=push, args=(n,)) for n in range(2)]
    threads.append(threading.Thread(target=collect))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert pushed
    for digest, blobs in pushed:
        assert meta.get_manifest(repo, digest) is not None
        for data in blobs:
            blob = Digest.of(data)
            assert meta.blob_size_in_repository(repo, str(blob)) == len(data), digest
            assert driver.get(keys.blob(blob)) == data
    # Once quiet, a run leaves only what the pushed manifests reference.
    gc.run(project="acme", grace=timedelta(0))
    graph = store.graph(store.repositories("acme")[0])
    referenced = {b for node in graph.manifests.values() for b in node.blobs}
    assert set(graph.blobs) == referenced
    print(f"\n{meta.engine.dialect.name}: {len(pushed)} pushes, {refused[0]} refused")


def test_scheduled_retention_and_gc(meta: MetadataStore) -> None:
    from wharf.lifecycle.service import LifecycleService

    driver = MemoryDriver()
    store = LifecycleStore(meta.engine)
    collector = GarbageCollector(store, driver, lambda ids: 0, lambda project: [])
    service = LifecycleService(store, collector,
                               grace=timedelta(0))
    repo = meta.ensure_repository("acme/web", "acme")
    assert repo is not None
    digests = []
    for n in range(3):
        blobs = [os.urandom(16), os.urandom(16)]
        for data in blobs:
            digest = Digest.of(data)
            meta.link_blob(repo, str(digest), len(data),
                           lambda d=digest, b=data: driver.put(keys.blob(d), b))
        body = _manifest(blobs)
        manifest = parse_manifest(body, mt.OCI_MANIFEST)
        assert meta.put_manifest(repo, manifest, body, f"dev-{n}") == []
        digests.append(str(manifest.digest))
        time.sleep(0.01)
    service.set_policy("acme", keep_last=1, keep_tagged=None, delete_untagged_older_than=None,
                       actor="test")
    assert service.run_all_retention() == {"acme": 4}  # two tags, two manifests
    assert meta.resolve_tag(repo, "dev-2") == digests[2]
    assert meta.resolve_tag(repo, "dev-0") is None
    summary = service.scheduled_gc()
    assert summary is not None
    assert summary.blobs_deleted == 4
    assert len(list(driver.list("blobs"))) == 2
    runs = service.gc_runs()
    assert runs[0].requested_by == "schedule"
    assert runs[0].status == "done"
    # A rerun of a finished run (its job retried) does nothing.
    assert service.execute_gc(runs[0].id) is None


def test_a_run_that_stopped_beating_is_marked_interrupted(meta: MetadataStore) -> None:
    from wharf.metadata.store import now

    store = LifecycleStore(meta.engine)
    run_id = store.create_run("acme", False, 0, "test")
    store.update_run(run_id, status="running")
    assert store.mark_interrupted(now() - timedelta(minutes=2)) == 0  # still beating
    assert store.mark_interrupted(now() + timedelta(seconds=1)) == 1
    run = store.get_run(run_id)
    assert run is not None
    assert run.status == "interrupted"
    assert run.finished_at is not None
