"""Online GC over the API: what it reclaims, what it keeps, and the push race."""

from __future__ import annotations

import uuid

import httpx

from tests.support.lifecycle import blob_files, blob_path, gc, new_project, store_problems
from tests.support.oci import (
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    assert_error,
    descriptor,
    index_json,
    make_image,
    manifest_json,
    push_artifact,
    push_blob,
    push_image,
    put_manifest,
    random_bytes,
    random_config,
    sha256,
)
from tests.support.server import WharfServer


def test_head_then_gc_then_put_fails_with_manifest_blob_unknown(
        server: WharfServer, client: httpx.Client) -> None:
    project = new_project(client)
    repo = f"{project}/app"
    config, layer = random_config(), random_bytes(2048)
    config_digest, layer_digest = push_blob(client, repo, config), push_blob(client, repo, layer)
    # The client checks the blobs exist (so it skips uploading them) ...
    assert client.head(f"/v2/{repo}/blobs/{layer_digest}").status_code == 200
    # ... GC runs before its manifest arrives, with no grace period ...
    run = gc(client, project)
    assert run["summary"]["blob_links_removed"] == 2
    assert not blob_path(server.data_dir, layer_digest).exists()
    # ... so the manifest naming them must be refused, never stored dangling.
    body = manifest_json(descriptor(OCI_CONFIG, config), [descriptor(OCI_LAYER, layer)])
    resp = put_manifest(client, repo, "v1", body)
    body_json = assert_error(resp, 400, "MANIFEST_BLOB_UNKNOWN")
    assert layer_digest in str(body_json)
    assert_error(client.get(f"/v2/{repo}/manifests/v1"), 404, "MANIFEST_UNKNOWN")
    # Uploading again makes the push succeed.
    push_blob(client, repo, config)
    push_blob(client, repo, layer)
    assert put_manifest(client, repo, "v1", body).status_code == 201
    assert config_digest in blob_files(server.data_dir)
    assert store_problems(server.data_dir) == []


def test_grace_period_protects_a_push_in_progress(client: httpx.Client) -> None:
    project = new_project(client)
    repo = f"{project}/app"
    image = make_image()
    push_blob(client, repo, image.config)
    push_blob(client, repo, image.layers[0])
    run = gc(client, project, grace="1h")
    assert run["summary"]["blob_links_removed"] == 0
    assert put_manifest(client, repo, "v1", image.manifest).status_code == 201


def test_gc_reclaims_referrers_children_and_unshared_blobs(
        server: WharfServer, client: httpx.Client) -> None:
    project = new_project(client)
    repo = f"{project}/app"
    base = random_bytes(4096)  # a layer two images share
    keep = make_image()
    keep.layers.append(base)
    keep.manifest = manifest_json(descriptor(OCI_CONFIG, keep.config),
                                  [descriptor(OCI_LAYER, x) for x in keep.layers])
    gone = make_image()
    gone.layers.append(base)
    gone.manifest = manifest_json(descriptor(OCI_CONFIG, gone.config),
                                  [descriptor(OCI_LAYER, x) for x in gone.layers])
    push_image(client, repo, "keep", keep)
    push_image(client, repo, "gone", gone)
    sbom, _ = push_artifact(client, repo, gone.descriptor(), "application/spdx+json")
    kept_sbom, _ = push_artifact(client, repo, keep.descriptor(), "application/spdx+json")
    amd, arm = push_image(client, repo, None), push_image(client, repo, None)
    index = index_json([amd.descriptor(), arm.descriptor()])
    assert put_manifest(client, repo, "multi", index, OCI_INDEX).status_code == 201
    index_digest = put_manifest(client, repo, "multi", index, OCI_INDEX).headers[
        "Docker-Content-Digest"]

    # Deleting by digest unlinks the image and its tags; the index goes the same way.
    assert client.delete(f"/v2/{repo}/manifests/{gone.digest}").status_code == 202
    assert client.delete(f"/v2/{repo}/manifests/{index_digest}").status_code == 202
    dry = gc(client, project, dry_run=True)
    run = gc(client, project)
    summary = run["summary"]
    assert dry["summary"]["manifest_links_removed"] == summary["manifest_links_removed"] == 3
    assert dry["summary"]["blob_links_removed"] == summary["blob_links_removed"]
    removed_links = {m["digest"] for m in summary["detail"]["manifest_links"]}
    assert removed_links == {sbom, amd.digest, arm.digest}

    files = blob_files(server.data_dir)
    for digest in (gone.config_digest, gone.layer_digests[0], amd.config_digest,
                   *amd.layer_digests, *arm.layer_digests):
        assert digest not in files, digest
    for digest in (keep.config_digest, *keep.layer_digests):
        assert digest in files, digest
    assert summary["bytes_freed"] > 0
    for digest in (sbom, amd.digest, arm.digest, gone.digest):
        assert_error(client.get(f"/v2/{repo}/manifests/{digest}"), 404, "MANIFEST_UNKNOWN")
    assert client.get(f"/v2/{repo}/blobs/{keep.layer_digests[-1]}").content == base
    referrers = client.get(f"/v2/{repo}/referrers/{keep.digest}").json()["manifests"]
    assert [r["digest"] for r in referrers] == [kept_sbom]
    assert store_problems(server.data_dir) == []

    # Nothing is left to do: a second run removes nothing.
    again = gc(client, project)["summary"]
    assert again["manifest_links_removed"] == again["blob_links_removed"] == 0


def test_gc_runs_are_recorded(client: httpx.Client) -> None:
    project = new_project(client)
    run = gc(client, project, dry_run=True)
    listed = client.get("/api/v1/gc/runs", params={"project": project}).json()["runs"]
    assert listed[0]["id"] == run["id"]
    assert listed[0]["started_at"]
    assert listed[0]["finished_at"]
    assert_error(client.get("/api/v1/gc/runs/999999"), 404, "NOT_FOUND")


def test_orphan_sweep_reclaims_bytes_no_row_names(own_server: WharfServer) -> None:
    """What a crash between bytes and rows leaves (docs/adr/0001-write-order.md)."""
    data = random_bytes(512)
    digest = sha256(data)
    orphan = blob_path(own_server.data_dir, digest)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(data)
    session = own_server.data_dir / "blobs" / "uploads" / str(uuid.uuid4())
    session.mkdir(parents=True)
    (session / "data").write_bytes(b"partial")
    with httpx.Client(base_url=own_server.url, auth=own_server.auth, timeout=60) as client:
        young = gc(client, None, grace="1h")["summary"]
        assert young["orphans_deleted"] == 0
        assert orphan.exists()
        run = gc(client, None)["summary"]
    assert run["orphans_deleted"] == 2
    assert run["bytes_freed"] >= len(data)
    assert not orphan.exists()
    assert not session.exists()
    assert store_problems(own_server.data_dir, orphans_allowed=False) == []
