"""Retention over the API: policy, dry run == real run, removed tags become unknown."""

from __future__ import annotations

import time

import httpx

from tests.support.lifecycle import new_project
from tests.support.oci import (
    OCI_INDEX,
    assert_error,
    index_json,
    make_image,
    push_artifact,
    push_image,
    put_manifest,
)
from tests.support.server import WharfServer


def _policy(client: httpx.Client, project: str, **rules: object) -> dict[str, object]:
    resp = client.put(f"/api/v1/projects/{project}/retention", json=rules)
    assert resp.status_code == 200, resp.text
    data: dict[str, object] = resp.json()
    return data


def _run(client: httpx.Client, project: str, dry_run: bool) -> dict[str, list[dict[str, str]]]:
    resp = client.post(f"/api/v1/projects/{project}/retention/run", json={"dry_run": dry_run})
    assert resp.status_code == 200, resp.text
    data: dict[str, list[dict[str, str]]] = resp.json()
    return data


def test_policy_round_trip(client: httpx.Client) -> None:
    project = new_project(client)
    shown = client.get(f"/api/v1/projects/{project}/retention").json()
    assert shown["configured"] is False
    _policy(client, project, keep_last=30, keep_tagged="release-*,main",
            delete_untagged_older_than="7d")
    shown = client.get(f"/api/v1/projects/{project}/retention").json()
    assert shown["keep_last"] == 30
    assert shown["keep_tagged"] == ["release-*", "main"]
    assert shown["delete_untagged_older_than"] == "604800s"
    bad = client.put(f"/api/v1/projects/{project}/retention",
                     json={"delete_untagged_older_than": "soon"})
    assert_error(bad, 400, "INVALID_REQUEST")
    unknown = client.get("/api/v1/projects/no-such-project-xyz/retention")
    assert_error(unknown, 404, "NOT_FOUND")


def test_dry_run_equals_real_run_and_tags_become_unknown(client: httpx.Client) -> None:
    project = new_project(client)
    repo = f"{project}/web"
    builds = []
    for n in range(6):
        builds.append(push_image(client, repo, f"build-{n}"))
        time.sleep(0.01)  # distinct push times: keep-last orders by them
    release = push_image(client, repo, "release-1.0")
    push_image(client, repo, "main")
    loose = push_image(client, repo, None)  # untagged, pushed by digest
    # A referrer of an old build follows it; a tagged multi-arch index keeps its children.
    sbom, _ = push_artifact(client, repo, builds[0].descriptor(), "application/spdx+json")
    amd, arm = push_image(client, repo, None), push_image(client, repo, None)
    index = index_json([amd.descriptor(), arm.descriptor()])
    assert put_manifest(client, repo, "release-2.0", index, OCI_INDEX).status_code == 201

    _policy(client, project, keep_last=2, keep_tagged="release-*,main",
            delete_untagged_older_than="0s")
    dry = _run(client, project, dry_run=True)
    real = _run(client, project, dry_run=False)
    assert real["tags"] == dry["tags"]
    assert real["manifests"] == dry["manifests"]

    removed_tags = {t["tag"] for t in real["tags"]}
    assert removed_tags == {f"build-{n}" for n in range(4)}
    removed = {m["digest"] for m in real["manifests"]}
    assert removed == {b.digest for b in builds[:4]} | {sbom, loose.digest}
    for tag in removed_tags:
        assert_error(client.get(f"/v2/{repo}/manifests/{tag}"), 404, "MANIFEST_UNKNOWN")
    for kept in ("build-4", "build-5", "release-1.0", "main", "release-2.0"):
        assert client.get(f"/v2/{repo}/manifests/{kept}").status_code == 200
    assert client.get(f"/v2/{repo}/manifests/{amd.digest}").status_code == 200
    assert client.get(f"/v2/{repo}/manifests/{release.digest}").status_code == 200

    listed = client.get("/api/v1/images", params={"repo": repo}).json()["images"]
    listed_tags = {t for image in listed for t in image["tags"]}
    assert listed_tags == {"build-4", "build-5", "release-1.0", "main", "release-2.0"}
    assert not removed & {image["digest"] for image in listed}

    # A second run finds nothing left to do.
    again = _run(client, project, dry_run=True)
    assert again["tags"] == []
    assert again["manifests"] == []


def test_untagged_listing_and_storage_report(client: httpx.Client) -> None:
    project = new_project(client)
    repo = f"{project}/api"
    shared = make_image(layer_count=2, layer_size=4096)
    push_image(client, repo, "v1", shared)
    push_image(client, f"{project}/worker", "v1", shared)  # same blobs, another repository
    loose = push_image(client, repo, None)
    images = client.get("/api/v1/images", params={"project": project, "untagged": "true"})
    assert [i["digest"] for i in images.json()["images"]] == [loose.digest]
    older = client.get("/api/v1/images", params={"project": project, "untagged": "true",
                                                "older_than": "7d"})
    assert older.json()["images"] == []

    report = client.get(f"/api/v1/projects/{project}/storage").json()
    image_bytes = len(shared.manifest) + len(shared.config) + sum(map(len, shared.layers))
    loose_bytes = len(loose.manifest) + len(loose.config) + sum(map(len, loose.layers))
    assert report["logical_bytes"] == 2 * image_bytes + loose_bytes
    assert report["unique_bytes"] == image_bytes + loose_bytes
    assert report["untagged_manifests"] == 1
    assert report["untagged_bytes"] == loose_bytes
    assert {r["name"] for r in report["repositories"]} == {repo, f"{project}/worker"}
    assert report["largest_layers"][0]["size"] == 4096
    assert report["largest_layers"][0]["repositories"] == 2
    assert report["shared_bytes"] == 0


def test_retention_needs_project_admin(server: WharfServer, client: httpx.Client) -> None:
    project = new_project(client)
    user = f"u{project}"
    assert client.post("/api/v1/users", json={"username": user,
                                              "password": "a-long-password-1"}).status_code == 201
    resp = client.post(f"/api/v1/projects/{project}/members",
                       json={"username": user, "role": "pusher"})
    assert resp.status_code in (200, 201), resp.text
    with httpx.Client(base_url=server.url, auth=(user, "a-long-password-1")) as pusher:
        assert pusher.get(f"/api/v1/projects/{project}/retention").status_code == 200
        assert_error(pusher.put(f"/api/v1/projects/{project}/retention", json={"keep_last": 1}),
                     403, "DENIED")
        assert_error(pusher.post("/api/v1/gc/runs", json={"project": project}), 403, "DENIED")
        assert_error(pusher.post("/api/v1/gc/runs", json={}), 403, "DENIED")
