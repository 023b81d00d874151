"""Content discovery: tag list and catalog with pagination, and the referrers API
(conformance 03_discovery, spec "Content Discovery")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar
from uuid import uuid4

import httpx
import pytest

from tests.support.oci import (
    EMPTY_JSON,
    EMPTY_JSON_DIGEST,
    OCI_EMPTY,
    OCI_INDEX,
    OCI_MANIFEST,
    Json,
    assert_error,
    descriptor,
    get_json,
    index_json,
    make_image,
    manifest_json,
    push_artifact,
    push_blob,
    push_image,
    push_image_blobs,
    put_manifest,
    sha256,
    unique_repo,
)

# What the server does with `n` (documented here, asserted below): values above the cap
# are clamped to it, n=0 gives an empty page, negative or non-numeric n is a 400.
PAGE_CAP = 1000


def tags_of(resp: httpx.Response) -> list[str]:
    assert resp.status_code == 200, resp.text
    tags = get_json(resp)["tags"]
    assert isinstance(tags, list)
    return tags


def next_link(resp: httpx.Response) -> str | None:
    link = resp.links.get("next")
    return None if link is None else str(link["url"])


def push_tags(client: httpx.Client, repo: str, tags: list[str]) -> None:
    image = push_image(client, repo, tag=tags[0])
    for tag in tags[1:]:
        assert put_manifest(client, repo, tag, image.manifest).status_code == 201


class TestTagList:
    tags: ClassVar[list[str]] = ["test0", "test1", "test2", "test3"]

    @pytest.fixture
    def repo(self, client: httpx.Client) -> str:
        repo = unique_repo()
        push_tags(client, repo, self.tags)
        return repo

    def test_list_all(self, client: httpx.Client, repo: str) -> None:
        resp = client.get(f"/v2/{repo}/tags/list")
        assert get_json(resp)["name"] == repo
        assert tags_of(resp) == self.tags
        assert next_link(resp) is None

    def test_lexical_order(self, client: httpx.Client) -> None:
        repo = unique_repo()
        tags = ["b", "A", "a", "1.0", "10", "2", "_x"]
        push_tags(client, repo, tags)
        assert tags_of(client.get(f"/v2/{repo}/tags/list")) == sorted(tags)

    def test_n_limits_results(self, client: httpx.Client, repo: str) -> None:
        resp = client.get(f"/v2/{repo}/tags/list", params={"n": 2})
        assert tags_of(resp) == ["test0", "test1"]

    def test_last_starts_after(self, client: httpx.Client, repo: str) -> None:
        resp = client.get(f"/v2/{repo}/tags/list", params={"n": 2, "last": "test1"})
        assert tags_of(resp) == ["test2", "test3"]
        resp = client.get(f"/v2/{repo}/tags/list", params={"last": "test2"})
        assert tags_of(resp) == ["test3"]
        resp = client.get(f"/v2/{repo}/tags/list", params={"last": "test3"})
        assert tags_of(resp) == []

    def test_last_need_not_be_a_tag(self, client: httpx.Client, repo: str) -> None:
        resp = client.get(f"/v2/{repo}/tags/list", params={"n": 1, "last": "test1a"})
        assert tags_of(resp) == ["test2"]

    def test_link_header_walks_every_page(self, client: httpx.Client, repo: str) -> None:
        resp = client.get(f"/v2/{repo}/tags/list", params={"n": 1})
        seen = tags_of(resp)
        while (link := next_link(resp)) is not None:
            assert httpx.URL(link).path == f"/v2/{repo}/tags/list"
            resp = client.get(link)
            seen += tags_of(resp)
            assert len(seen) <= len(self.tags), "pagination does not end"
        assert seen == self.tags

    def test_full_page_has_link_last_page_has_none(self, client: httpx.Client, repo: str) -> None:
        first = client.get(f"/v2/{repo}/tags/list", params={"n": 3})
        assert tags_of(first) == ["test0", "test1", "test2"]
        link = next_link(first)
        assert link is not None
        params = httpx.URL(link).params
        assert params["last"] == "test2"
        assert params["n"] == "3"
        last_page = client.get(link)
        assert tags_of(last_page) == ["test3"]
        assert next_link(last_page) is None

    def test_n_zero_is_empty(self, client: httpx.Client, repo: str) -> None:
        assert tags_of(client.get(f"/v2/{repo}/tags/list", params={"n": 0})) == []

    @pytest.mark.parametrize("n", ["-1", "abc", "1.5"])
    def test_bad_n_is_pagination_number_invalid(
        self, client: httpx.Client, repo: str, n: str
    ) -> None:
        resp = client.get(f"/v2/{repo}/tags/list", params={"n": n})
        assert_error(resp, 400, "PAGINATION_NUMBER_INVALID")

    def test_huge_n_is_clamped(self, client: httpx.Client, repo: str) -> None:
        resp = client.get(f"/v2/{repo}/tags/list", params={"n": 1_000_000})
        assert tags_of(resp) == self.tags

    def test_unknown_repository_is_name_unknown(self, client: httpx.Client) -> None:
        assert_error(client.get(f"/v2/{unique_repo()}/tags/list"), 404, "NAME_UNKNOWN")


def test_page_size_is_capped(client: httpx.Client) -> None:
    """More tags than the cap: a huge n returns exactly the cap and a Link to the rest."""
    repo = unique_repo()
    tags = [f"t{i:05d}" for i in range(PAGE_CAP + 1)]
    push_tags(client, repo, tags)
    resp = client.get(f"/v2/{repo}/tags/list", params={"n": 1_000_000})
    assert tags_of(resp) == tags[:PAGE_CAP]
    link = next_link(resp)
    assert link is not None
    assert tags_of(client.get(link)) == tags[PAGE_CAP:]


class TestCatalog:
    @pytest.fixture
    def repos(self, client: httpx.Client) -> list[str]:
        prefix = f"catalog/{uuid4().hex[:10]}"
        names = [f"{prefix}/a", f"{prefix}/b/x", f"{prefix}/c"]
        for name in names:
            push_blob(client, name, b"catalog " + name.encode())
        return names

    def test_lists_repositories(self, client: httpx.Client, repos: list[str]) -> None:
        # Start just before our names; other tests' repositories sort elsewhere.
        start = repos[0].rsplit("/", 1)[0]
        resp = client.get("/v2/_catalog", params={"last": start, "n": 3})
        assert resp.status_code == 200, resp.text
        assert get_json(resp)["repositories"] == repos

    def test_repositories_are_sorted(self, client: httpx.Client, repos: list[str]) -> None:
        resp = client.get("/v2/_catalog", params={"n": PAGE_CAP})
        assert resp.status_code == 200
        names = get_json(resp)["repositories"]
        assert names == sorted(names)

    def test_pagination_with_link(self, client: httpx.Client, repos: list[str]) -> None:
        start = repos[0].rsplit("/", 1)[0]
        resp = client.get("/v2/_catalog", params={"last": start, "n": 2})
        assert resp.status_code == 200
        assert get_json(resp)["repositories"] == repos[:2]
        link = next_link(resp)
        assert link is not None
        assert httpx.URL(link).path == "/v2/_catalog"
        assert httpx.URL(link).params["last"] == repos[1]
        resp = client.get(link)
        assert resp.status_code == 200
        assert get_json(resp)["repositories"][0] == repos[2]

    def test_n_zero_is_empty(self, client: httpx.Client) -> None:
        resp = client.get("/v2/_catalog", params={"n": 0})
        assert resp.status_code == 200
        assert get_json(resp)["repositories"] == []

    @pytest.mark.parametrize("n", ["-1", "abc"])
    def test_bad_n_is_pagination_number_invalid(self, client: httpx.Client, n: str) -> None:
        resp = client.get("/v2/_catalog", params={"n": n})
        assert_error(resp, 400, "PAGINATION_NUMBER_INVALID")

    def test_huge_n_is_clamped(self, client: httpx.Client, repos: list[str]) -> None:
        resp = client.get("/v2/_catalog", params={"n": 1_000_000})
        assert resp.status_code == 200
        assert len(get_json(resp)["repositories"]) <= PAGE_CAP


# --- referrers ---------------------------------------------------------------------

ANNOTATION = "org.opencontainers.conformance.test"
TYPE_A = "application/vnd.nhl.peanut.butter.bagel"
TYPE_B = "application/vnd.nba.strawberry.jam.croissant"
TYPE_INDEX = "application/vnd.food.stand"
REF_BLOB_A = b"NHL Peanut Butter on my NHL bagel"
REF_BLOB_B = b"NBA Strawberry Jam on my NBA croissant"


@dataclass
class Referrer:
    body: bytes
    media_type: str
    artifact_type: str
    annotation: str | None

    @property
    def digest(self) -> str:
        return sha256(self.body)


def config_artifact(subject: Json, artifact_type: str, blob: bytes, note: str) -> Referrer:
    """An artifact whose type is its config's media type."""
    body = manifest_json(
        descriptor(artifact_type, blob),
        [descriptor(OCI_EMPTY, EMPTY_JSON)],
        subject=subject,
        annotations={ANNOTATION: note},
    )
    return Referrer(body, OCI_MANIFEST, artifact_type, note)


def layer_artifact(
    subject: Json, artifact_type: str, blob: bytes, note: str | None
) -> Referrer:
    """An artifact with artifactType set, an empty config and one layer."""
    body = manifest_json(
        descriptor(OCI_EMPTY, EMPTY_JSON),
        [descriptor(artifact_type, blob)],
        subject=subject,
        artifact_type=artifact_type,
        annotations=None if note is None else {ANNOTATION: note},
    )
    return Referrer(body, OCI_MANIFEST, artifact_type, note)


def push_referrer(client: httpx.Client, repo: str, referrer: Referrer, subject: str) -> None:
    resp = put_manifest(client, repo, referrer.digest, referrer.body, referrer.media_type)
    assert resp.status_code == 201, resp.text
    assert resp.headers["OCI-Subject"] == subject


def get_referrers(
    client: httpx.Client, repo: str, digest: str, artifact_type: str | None = None
) -> tuple[httpx.Response, list[Json]]:
    params = {} if artifact_type is None else {"artifactType": artifact_type}
    resp = client.get(f"/v2/{repo}/referrers/{digest}", params=params)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"] == OCI_INDEX
    body = get_json(resp)
    assert body["schemaVersion"] == 2
    assert body["mediaType"] == OCI_INDEX
    manifests = body["manifests"]
    assert isinstance(manifests, list)
    return resp, manifests


@dataclass
class ReferrersScene:
    repo: str
    subject: str
    missing_subject: str
    referrers: list[Referrer]
    orphan: Referrer


@pytest.fixture
def scene(client: httpx.Client) -> ReferrersScene:
    """The conformance setup: some referrers pushed before their subject, some after, and
    one whose subject is never pushed."""
    repo = unique_repo()
    subject_image = make_image()
    subject = subject_image.descriptor()
    never_pushed = make_image().descriptor()

    push_blob(client, repo, EMPTY_JSON)
    push_blob(client, repo, REF_BLOB_A)
    a_config = config_artifact(subject, TYPE_A, REF_BLOB_A, "test config a")
    a_layer = layer_artifact(subject, TYPE_A, REF_BLOB_A, "test layer a")
    index_body = index_json(
        [descriptor(OCI_MANIFEST, a_config.body), descriptor(OCI_MANIFEST, a_layer.body)],
        subject=subject,
        artifact_type=TYPE_INDEX,
        annotations={ANNOTATION: "test index"},
    )
    an_index = Referrer(index_body, OCI_INDEX, TYPE_INDEX, "test index")
    for referrer in (a_config, a_layer, an_index):
        push_referrer(client, repo, referrer, subject_image.digest)

    push_image(client, repo, tag="tagtest0", image=subject_image)

    push_blob(client, repo, REF_BLOB_B)
    b_config = config_artifact(subject, TYPE_B, REF_BLOB_B, "test config b")
    b_layer = layer_artifact(subject, TYPE_B, REF_BLOB_B, "test layer b")
    for referrer in (b_config, b_layer):
        push_referrer(client, repo, referrer, subject_image.digest)

    orphan = layer_artifact(never_pushed, TYPE_B, REF_BLOB_B, None)
    push_referrer(client, repo, orphan, never_pushed["digest"])
    return ReferrersScene(
        repo=repo,
        subject=subject_image.digest,
        missing_subject=never_pushed["digest"],
        referrers=[a_config, a_layer, an_index, b_config, b_layer],
        orphan=orphan,
    )


def assert_referrer_descriptors(listed: list[Json], expected: list[Referrer]) -> None:
    by_digest = {d["digest"]: d for d in listed}
    assert len(by_digest) == len(listed), "a referrer is listed twice"
    assert set(by_digest) == {r.digest for r in expected}
    for referrer in expected:
        entry = by_digest[referrer.digest]
        assert entry["mediaType"] == referrer.media_type
        assert entry["size"] == len(referrer.body)
        assert entry["artifactType"] == referrer.artifact_type
        if referrer.annotation is None:
            assert not entry.get("annotations")
        else:
            assert entry["annotations"] == {ANNOTATION: referrer.annotation}


class TestReferrers:
    def test_unknown_digest_gives_empty_index(self, client: httpx.Client) -> None:
        repo = unique_repo()
        push_image(client, repo)
        _, manifests = get_referrers(client, repo, sha256(b"hello world"))
        assert manifests == []

    def test_lists_all_referrers(self, client: httpx.Client, scene: ReferrersScene) -> None:
        resp, manifests = get_referrers(client, scene.repo, scene.subject)
        assert len(manifests) == 5
        assert_referrer_descriptors(manifests, scene.referrers)
        assert "OCI-Filters-Applied" not in resp.headers

    def test_filter_by_artifact_type(self, client: httpx.Client, scene: ReferrersScene) -> None:
        resp, manifests = get_referrers(client, scene.repo, scene.subject, TYPE_A)
        assert resp.headers["OCI-Filters-Applied"] == "artifactType"
        expected = [r for r in scene.referrers if r.artifact_type == TYPE_A]
        assert len(expected) == 2
        assert_referrer_descriptors(manifests, expected)

    def test_filter_matching_nothing(self, client: httpx.Client, scene: ReferrersScene) -> None:
        resp, manifests = get_referrers(client, scene.repo, scene.subject, "application/x-none")
        assert resp.headers["OCI-Filters-Applied"] == "artifactType"
        assert manifests == []

    def test_filter_on_index_type(self, client: httpx.Client, scene: ReferrersScene) -> None:
        _, manifests = get_referrers(client, scene.repo, scene.subject, TYPE_INDEX)
        assert [m["digest"] for m in manifests] == [scene.referrers[2].digest]

    def test_subject_never_pushed(self, client: httpx.Client, scene: ReferrersScene) -> None:
        _, manifests = get_referrers(client, scene.repo, scene.missing_subject)
        assert_referrer_descriptors(manifests, [scene.orphan])

    def test_referrers_are_per_repository(
        self, client: httpx.Client, scene: ReferrersScene
    ) -> None:
        other = unique_repo()
        push_image(client, other)
        _, manifests = get_referrers(client, other, scene.subject)
        assert manifests == []

    def test_deleted_referrer_is_no_longer_listed(
        self, client: httpx.Client, scene: ReferrersScene
    ) -> None:
        gone = scene.referrers[3]
        resp = client.delete(f"/v2/{scene.repo}/manifests/{gone.digest}")
        assert resp.status_code == 202, resp.text
        _, manifests = get_referrers(client, scene.repo, scene.subject)
        assert_referrer_descriptors(manifests, [r for r in scene.referrers if r is not gone])


def test_referrer_before_subject_then_subject_arrives(client: httpx.Client) -> None:
    repo = unique_repo()
    subject = make_image()
    digest, resp = push_artifact(client, repo, subject.descriptor(), TYPE_A)
    assert resp.headers["OCI-Subject"] == subject.digest
    _, manifests = get_referrers(client, repo, subject.digest)
    assert [m["digest"] for m in manifests] == [digest]

    push_image_blobs(client, repo, subject)
    assert put_manifest(client, repo, "late", subject.manifest).status_code == 201
    _, manifests = get_referrers(client, repo, subject.digest)
    assert [m["digest"] for m in manifests] == [digest]


def test_referrers_of_an_index_subject(client: httpx.Client) -> None:
    repo = unique_repo()
    child = push_image(client, repo, tag=None)
    index = index_json([child.descriptor()])
    assert put_manifest(client, repo, "idx", index, OCI_INDEX).status_code == 201
    subject = descriptor(OCI_INDEX, index)
    digest, _ = push_artifact(client, repo, subject, TYPE_B, {ANNOTATION: "on an index"})
    _, manifests = get_referrers(client, repo, sha256(index))
    assert [m["digest"] for m in manifests] == [digest]
    assert manifests[0]["annotations"] == {ANNOTATION: "on an index"}


def test_empty_json_blob_digest() -> None:
    assert sha256(EMPTY_JSON) == EMPTY_JSON_DIGEST
