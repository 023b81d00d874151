"""Error paths: each answers with its OCI error code and status, never a 500
(spec "Error Codes")."""

from __future__ import annotations

import json
from uuid import uuid4

import httpx
import pytest

from tests.support.oci import (
    DOCKER_SCHEMA1_SIGNED,
    OCI_CONFIG,
    OCI_LAYER,
    OCI_MANIFEST,
    Image,
    assert_error,
    descriptor,
    digest_of,
    make_image,
    push_image,
    push_image_blobs,
    put_manifest,
    random_bytes,
    raw_request,
    sha256,
    start_upload,
    unique_repo,
    upload_location,
    with_params,
)
from tests.support.server import WharfServer

OCTET = {"Content-Type": "application/octet-stream"}
MD5_DIGEST = "md5:" + "0" * 32
MALFORMED_DIGESTS = [
    "sha256:xyz",
    "sha256:" + "a" * 63,
    "sha256:" + "A" * 64,
    "sha256",
    "notadigest",
    "sha256:" + "a" * 64 + "0",
]


class TestDigests:
    @pytest.mark.parametrize("digest", MALFORMED_DIGESTS)
    def test_malformed_digest_on_commit(self, client: httpx.Client, digest: str) -> None:
        repo = unique_repo()
        location = upload_location(start_upload(client, repo))
        resp = client.put(with_params(location, digest=digest), content=b"data", headers=OCTET)
        assert_error(resp, 400, "DIGEST_INVALID")

    @pytest.mark.parametrize("digest", MALFORMED_DIGESTS)
    def test_malformed_digest_on_monolithic_post(self, client: httpx.Client, digest: str) -> None:
        repo = unique_repo()
        resp = client.post(
            f"/v2/{repo}/blobs/uploads/", params={"digest": digest}, content=b"x", headers=OCTET
        )
        assert_error(resp, 400, "DIGEST_INVALID")

    @pytest.mark.parametrize("digest", ["sha256:xyz", "sha256:" + "a" * 63, "sha256:" + "A" * 64])
    def test_malformed_digest_in_blob_url(self, client: httpx.Client, digest: str) -> None:
        repo = push_image_repo(client)
        assert_error(client.get(f"/v2/{repo}/blobs/{digest}"), 400, "DIGEST_INVALID")
        assert client.head(f"/v2/{repo}/blobs/{digest}").status_code == 400
        assert_error(client.delete(f"/v2/{repo}/blobs/{digest}"), 400, "DIGEST_INVALID")

    def test_content_not_matching_digest(self, client: httpx.Client) -> None:
        repo = unique_repo()
        location = upload_location(start_upload(client, repo))
        claimed = sha256(b"something else")
        resp = client.put(with_params(location, digest=claimed), content=b"data", headers=OCTET)
        assert_error(resp, 400, "DIGEST_INVALID")
        assert client.head(f"/v2/{repo}/blobs/{claimed}").status_code == 404
        assert client.head(f"/v2/{repo}/blobs/{sha256(b'data')}").status_code == 404

    def test_chunked_content_not_matching_digest(self, client: httpx.Client) -> None:
        repo = unique_repo()
        location = upload_location(start_upload(client, repo))
        resp = client.patch(
            location, content=b"chunk", headers={**OCTET, "Content-Range": "0-4"}
        )
        assert resp.status_code == 202
        resp = client.put(
            with_params(upload_location(resp), digest=sha256(b"other")), headers=OCTET
        )
        assert_error(resp, 400, "DIGEST_INVALID")

    def test_monolithic_post_not_matching_digest(self, client: httpx.Client) -> None:
        repo = unique_repo()
        resp = client.post(
            f"/v2/{repo}/blobs/uploads/",
            params={"digest": sha256(b"other")},
            content=b"data",
            headers=OCTET,
        )
        assert_error(resp, 400, "DIGEST_INVALID")

    def test_unsupported_algorithm_on_commit(self, client: httpx.Client) -> None:
        repo = unique_repo()
        location = upload_location(start_upload(client, repo))
        resp = client.put(with_params(location, digest=MD5_DIGEST), content=b"x", headers=OCTET)
        assert_error(resp, 400, "DIGEST_INVALID", "UNSUPPORTED")

    def test_unsupported_algorithm_in_blob_url(self, client: httpx.Client) -> None:
        repo = push_image_repo(client)
        resp = client.get(f"/v2/{repo}/blobs/{MD5_DIGEST}")
        assert_error(resp, 400, "DIGEST_INVALID", "UNSUPPORTED")

    def test_commit_without_digest(self, client: httpx.Client) -> None:
        repo = unique_repo()
        location = upload_location(start_upload(client, repo))
        resp = client.put(location, content=b"data", headers=OCTET)
        assert_error(resp, 400, "DIGEST_INVALID", "BLOB_UPLOAD_INVALID")

    def test_sha512_digest_matches(self, client: httpx.Client) -> None:
        repo = unique_repo()
        data = random_bytes(64)
        digest = digest_of(data, "sha512")
        location = upload_location(start_upload(client, repo))
        resp = client.put(with_params(location, digest=digest), content=data, headers=OCTET)
        assert resp.status_code == 201, resp.text
        wrong = digest_of(b"other", "sha512")
        location = upload_location(start_upload(client, repo))
        resp = client.put(with_params(location, digest=wrong), content=data, headers=OCTET)
        assert_error(resp, 400, "DIGEST_INVALID")


def push_image_repo(client: httpx.Client) -> str:
    repo = unique_repo()
    push_image(client, repo)
    return repo


class TestUnknown:
    @pytest.mark.parametrize("method", ["GET", "PATCH", "PUT", "DELETE"])
    def test_unknown_upload(self, client: httpx.Client, method: str) -> None:
        repo = push_image_repo(client)
        url = f"/v2/{repo}/blobs/uploads/{uuid4()}"
        params = {"digest": sha256(b"x")} if method == "PUT" else {}
        resp = client.request(method, url, params=params, content=b"x", headers=OCTET)
        assert_error(resp, 404, "BLOB_UPLOAD_UNKNOWN")

    def test_upload_of_another_repository_is_unknown(self, client: httpx.Client) -> None:
        owner, other = unique_repo(), push_image_repo(client)
        location = upload_location(start_upload(client, owner))
        session = httpx.URL(location).path.rsplit("/", 1)[-1]
        resp = client.get(f"/v2/{other}/blobs/uploads/{session}")
        assert_error(resp, 404, "BLOB_UPLOAD_UNKNOWN")

    def test_unknown_blob(self, client: httpx.Client) -> None:
        repo = push_image_repo(client)
        assert_error(client.get(f"/v2/{repo}/blobs/{sha256(b'nope')}"), 404, "BLOB_UNKNOWN")

    def test_unknown_manifest(self, client: httpx.Client) -> None:
        repo = push_image_repo(client)
        resp = client.get(f"/v2/{repo}/manifests/{sha256(b'nope')}")
        assert_error(resp, 404, "MANIFEST_UNKNOWN")
        assert_error(client.get(f"/v2/{repo}/manifests/nope"), 404, "MANIFEST_UNKNOWN")

    def test_unknown_repository_tags(self, client: httpx.Client) -> None:
        assert_error(client.get(f"/v2/{unique_repo()}/tags/list"), 404, "NAME_UNKNOWN")

    def test_manifest_in_unknown_repository(self, client: httpx.Client) -> None:
        resp = client.get(f"/v2/{unique_repo()}/manifests/latest")
        assert_error(resp, 404, "MANIFEST_UNKNOWN", "NAME_UNKNOWN")

    def test_blob_in_unknown_repository(self, client: httpx.Client) -> None:
        resp = client.get(f"/v2/{unique_repo()}/blobs/{sha256(b'nope')}")
        assert_error(resp, 404, "BLOB_UNKNOWN", "NAME_UNKNOWN")


class TestChunkErrors:
    @pytest.mark.parametrize("header", ["abc", "9-5", "bytes=5-9", "-9", "5-"])
    def test_malformed_content_range_is_416_with_range(
        self, client: httpx.Client, header: str
    ) -> None:
        """Spec: an invalid Content-Range format is a 416 carrying the upload's Range."""
        repo = unique_repo()
        location = upload_location(start_upload(client, repo))
        resp = client.patch(location, content=b"01234", headers={**OCTET, "Content-Range": "0-4"})
        assert resp.status_code == 202, resp.text
        location = upload_location(resp)

        resp = client.patch(location, content=b"56789", headers={**OCTET, "Content-Range": header})
        assert resp.status_code == 416, resp.text
        assert resp.headers.get("Range") == "0-4", dict(resp.headers)

    def test_content_range_length_mismatch(self, client: httpx.Client) -> None:
        repo = unique_repo()
        location = upload_location(start_upload(client, repo))
        resp = client.patch(
            location, content=b"01234", headers={**OCTET, "Content-Range": "0-9"}
        )
        assert resp.status_code in (400, 416), resp.text


# --- manifests -----------------------------------------------------------------------


@pytest.fixture
def image_repo(client: httpx.Client) -> tuple[str, Image]:
    """A repository holding the blobs of an image whose manifest is not pushed."""
    repo = unique_repo()
    image = make_image()
    push_image_blobs(client, repo, image)
    return repo, image


def manifest_doc(image: Image) -> dict[str, object]:
    doc = json.loads(image.manifest)
    assert isinstance(doc, dict)
    return doc


class TestManifestValidation:
    def test_oversize_manifest_is_413(
        self, client: httpx.Client, image_repo: tuple[str, Image]
    ) -> None:
        repo, image = image_repo
        doc = manifest_doc(image)
        doc["annotations"] = {"padding": "x" * (4 * 1024 * 1024)}
        body = json.dumps(doc).encode()
        assert len(body) > 4 * 1024 * 1024
        resp = put_manifest(client, repo, "big", body)
        assert_error(resp, 413)

    def test_manifest_of_exactly_4_mib_is_accepted(
        self, client: httpx.Client, image_repo: tuple[str, Image]
    ) -> None:
        repo, image = image_repo
        doc = manifest_doc(image)
        doc["annotations"] = {"padding": ""}
        overhead = len(json.dumps(doc).encode())
        doc["annotations"] = {"padding": "x" * (4 * 1024 * 1024 - overhead)}
        body = json.dumps(doc).encode()
        assert len(body) == 4 * 1024 * 1024
        resp = put_manifest(client, repo, "max", body)
        assert resp.status_code == 201, resp.text[:300]

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param(b"blablabla", id="not-json"),
            pytest.param(b"", id="empty"),
            pytest.param(b"[]", id="array"),
            pytest.param(b'"manifest"', id="string"),
            pytest.param(b"\xff\xfe{}", id="not-utf8"),
            pytest.param(b'{"schemaVersion": 2, "config": ', id="truncated-start"),
        ],
    )
    def test_malformed_json(
        self, client: httpx.Client, image_repo: tuple[str, Image], body: bytes
    ) -> None:
        repo, _ = image_repo
        assert_error(put_manifest(client, repo, "bad", body), 400, "MANIFEST_INVALID")

    def test_truncated_manifest(
        self, client: httpx.Client, image_repo: tuple[str, Image]
    ) -> None:
        repo, image = image_repo
        body = image.manifest[: len(image.manifest) // 2]
        assert_error(put_manifest(client, repo, "cut", body), 400, "MANIFEST_INVALID")

    @pytest.mark.parametrize("opener", ["[", '{"a":'])
    def test_deeply_nested_json(
        self, client: httpx.Client, image_repo: tuple[str, Image], opener: str
    ) -> None:
        repo, image = image_repo
        closer = "]" if opener == "[" else "}"
        nested = opener * 10_000 + "1" + closer * 10_000
        body = image.manifest.rstrip()[:-1] + f', "nested": {nested}}}'.encode()
        assert_error(put_manifest(client, repo, "deep", body), 400, "MANIFEST_INVALID")
        assert client.get("/v2/").status_code == 200

    def test_duplicate_keys(self, client: httpx.Client, image_repo: tuple[str, Image]) -> None:
        repo, image = image_repo
        doc = manifest_doc(image)
        config = json.dumps(doc["config"])
        body = (
            f'{{"schemaVersion": 2, "mediaType": "{OCI_MANIFEST}", '
            f'"config": {config}, "config": {config}, "layers": {json.dumps(doc["layers"])}}}'
        ).encode()
        assert_error(put_manifest(client, repo, "dup", body), 400, "MANIFEST_INVALID")

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("schemaVersion", 1),
            ("schemaVersion", "2"),
            ("config", None),
            ("config", "sha256:abc"),
            ("layers", {"not": "a list"}),
        ],
    )
    def test_wrong_structure(
        self,
        client: httpx.Client,
        image_repo: tuple[str, Image],
        field: str,
        value: object,
    ) -> None:
        repo, image = image_repo
        doc = manifest_doc(image)
        if value is None:
            del doc[field]
        else:
            doc[field] = value
        body = json.dumps(doc).encode()
        assert_error(put_manifest(client, repo, "shape", body), 400, "MANIFEST_INVALID")

    @pytest.mark.parametrize(
        ("key", "value"),
        [("size", "12"), ("size", -1), ("digest", "sha256:nothex"), ("mediaType", None)],
    )
    def test_bad_descriptor(
        self,
        client: httpx.Client,
        image_repo: tuple[str, Image],
        key: str,
        value: object,
    ) -> None:
        repo, image = image_repo
        doc = manifest_doc(image)
        layer = dict(descriptor(OCI_LAYER, image.layers[0]))
        if value is None:
            del layer[key]
        else:
            layer[key] = value
        doc["layers"] = [layer]
        body = json.dumps(doc).encode()
        assert_error(put_manifest(client, repo, "desc", body), 400, "MANIFEST_INVALID")

    def test_media_type_disagrees_with_content_type(
        self, client: httpx.Client, image_repo: tuple[str, Image]
    ) -> None:
        repo, image = image_repo
        resp = put_manifest(
            client, repo, "mixed", image.manifest, "application/vnd.oci.image.index.v1+json"
        )
        assert_error(resp, 400, "MANIFEST_INVALID")

    @pytest.mark.parametrize(
        "content_type",
        [DOCKER_SCHEMA1_SIGNED, "application/vnd.docker.distribution.manifest.v1+json"],
    )
    def test_schema1_manifest_is_refused_clearly(
        self, client: httpx.Client, image_repo: tuple[str, Image], content_type: str
    ) -> None:
        repo, image = image_repo
        schema1 = {
            "schemaVersion": 1,
            "name": repo,
            "tag": "old",
            "architecture": "amd64",
            "fsLayers": [{"blobSum": image.layer_digests[0]}],
            "history": [{"v1Compatibility": "{}"}],
            "signatures": [],
        }
        body = json.dumps(schema1).encode()
        resp = put_manifest(client, repo, "old", body, content_type)
        error = assert_error(resp, 400, "MANIFEST_INVALID", "UNSUPPORTED")
        text = json.dumps(error).lower()
        assert "schema 1" in text or "schema1" in text or "schema version 1" in text, error

    def test_digest_reference_not_matching_body(
        self, client: httpx.Client, image_repo: tuple[str, Image]
    ) -> None:
        repo, image = image_repo
        resp = put_manifest(client, repo, sha256(b"another manifest"), image.manifest)
        assert_error(resp, 400, "DIGEST_INVALID")
        resp = client.get(f"/v2/{repo}/manifests/{image.digest}")
        assert resp.status_code == 404

    def test_malformed_digest_reference(
        self, client: httpx.Client, image_repo: tuple[str, Image]
    ) -> None:
        repo, image = image_repo
        resp = put_manifest(client, repo, "sha256:totallywrong", image.manifest)
        assert_error(resp, 400, "DIGEST_INVALID", "TAG_INVALID", "MANIFEST_INVALID")

    def test_config_digest_of_wrong_algorithm(
        self, client: httpx.Client, image_repo: tuple[str, Image]
    ) -> None:
        repo, image = image_repo
        doc = manifest_doc(image)
        doc["config"] = {"mediaType": OCI_CONFIG, "digest": MD5_DIGEST, "size": 2}
        body = json.dumps(doc).encode()
        assert_error(put_manifest(client, repo, "md5", body), 400, "MANIFEST_INVALID")


# --- names and tags ------------------------------------------------------------------

INVALID_NAMES = [
    pytest.param("Conf/abc/App", id="uppercase"),
    pytest.param("-a/app", id="leading-dash"),
    pytest.param("conf/-a", id="component-leading-dash"),
    pytest.param("conf/a-", id="trailing-dash"),
    pytest.param("conf/a..b", id="double-dot"),
    pytest.param("conf/_a", id="leading-underscore"),
    pytest.param("conf/a___b", id="triple-underscore"),
    pytest.param("conf/" + "a" * 251, id="256-chars"),
    pytest.param("conf/a%20b", id="space"),
]


class TestNames:
    @pytest.mark.parametrize("name", INVALID_NAMES)
    def test_invalid_name_on_upload(self, client: httpx.Client, name: str) -> None:
        resp = client.post(f"/v2/{name}/blobs/uploads/", headers={"Content-Length": "0"})
        assert_error(resp, 400, "NAME_INVALID")

    @pytest.mark.parametrize("name", INVALID_NAMES)
    def test_invalid_name_on_manifest_put(self, client: httpx.Client, name: str) -> None:
        body = make_image().manifest
        resp = client.put(
            f"/v2/{name}/manifests/latest", content=body, headers={"Content-Type": OCI_MANIFEST}
        )
        assert_error(resp, 400, "NAME_INVALID")

    @pytest.mark.parametrize("name", INVALID_NAMES)
    def test_invalid_name_on_tag_list(self, client: httpx.Client, name: str) -> None:
        assert_error(client.get(f"/v2/{name}/tags/list"), 400, "NAME_INVALID")

    @pytest.mark.parametrize(
        "target",
        [
            "/v2/conf//app/blobs/uploads/",
            "/v2/conf/app//blobs/uploads/",
            "/v2//conf/app/blobs/uploads/",
            "/v2/conf/app/ /blobs/uploads/",
        ],
    )
    def test_empty_component_does_not_route_or_is_invalid(
        self, server: WharfServer, target: str
    ) -> None:
        resp = raw_request("127.0.0.1", server.port, "POST", target.replace(" ", "%20"))
        assert resp.status in (400, 404), resp
        if resp.status == 400:
            assert json.loads(resp.body)["errors"][0]["code"] == "NAME_INVALID"

    def test_longest_valid_name(self, client: httpx.Client) -> None:
        name = f"conf/{uuid4().hex[:8]}/" + "a" * (255 - 14)
        assert len(name) == 255
        resp = client.post(f"/v2/{name}/blobs/uploads/", headers={"Content-Length": "0"})
        assert resp.status_code == 202, resp.text

    @pytest.mark.parametrize("name", ["a__b", "a-b", "a--b", "a.b", "a_b", "0"])
    def test_valid_separators(self, client: httpx.Client, name: str) -> None:
        repo = f"conf/{uuid4().hex[:8]}/{name}"
        resp = client.post(f"/v2/{repo}/blobs/uploads/", headers={"Content-Length": "0"})
        assert resp.status_code == 202, resp.text


class TestTags:
    @pytest.mark.parametrize(
        "tag",
        [
            pytest.param("-bad", id="leading-dash"),
            pytest.param(".bad", id="leading-dot"),
            pytest.param("a" * 129, id="129-chars"),
            pytest.param("bad+tag", id="plus"),
            pytest.param("bad%20tag", id="space"),
        ],
    )
    def test_invalid_tag(
        self, client: httpx.Client, image_repo: tuple[str, Image], tag: str
    ) -> None:
        repo, image = image_repo
        resp = put_manifest(client, repo, tag, image.manifest)
        assert_error(resp, 400, "TAG_INVALID", "MANIFEST_INVALID")
        assert client.get(f"/v2/{repo}/tags/list").status_code in (200, 404)

    def test_longest_valid_tag(self, client: httpx.Client, image_repo: tuple[str, Image]) -> None:
        repo, image = image_repo
        tag = "_" + "a" * 127
        resp = put_manifest(client, repo, tag, image.manifest)
        assert resp.status_code == 201, resp.text
        assert client.get(f"/v2/{repo}/tags/list").json()["tags"] == [tag]
