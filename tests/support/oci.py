"""Helpers for tests that speak the OCI distribution API to a live server.

Everything here goes over HTTP with an `httpx.Client` whose base URL is the server; nothing
imports wharf, so the same helpers work against any registry.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import httpx

from tests.support.server import ADMIN_PASSWORD

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"

EMPTY_JSON = b"{}"
EMPTY_JSON_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

Json = dict[str, Any]


# --- digests and names ---------------------------------------------------------------


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    """The OCI digest string of `data`, e.g. `sha256:<hex>`."""
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def sha256(data: bytes) -> str:
    return digest_of(data, "sha256")


def unique_repo(prefix: str = "conf") -> str:
    """A repository name no other test uses: `<prefix>/<random>/app`."""
    return f"{prefix}/{uuid4().hex[:10]}/app"


def random_bytes(size: int) -> bytes:
    return os.urandom(size)


# --- documents -----------------------------------------------------------------------


def descriptor(media_type: str, data: bytes, **extra: Any) -> Json:
    """A descriptor for `data` (extra keys such as `annotations` or `platform` are added)."""
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data), **extra}


def random_config() -> bytes:
    """An image config unique to this call, so its digest is new to the registry."""
    config = {
        "architecture": "amd64",
        "os": "linux",
        "author": uuid4().hex,
        "rootfs": {"type": "layers", "diff_ids": []},
    }
    return json.dumps(config, indent="\t").encode()


def manifest_json(
    config: Json,
    layers: list[Json],
    *,
    media_type: str | None = OCI_MANIFEST,
    subject: Json | None = None,
    artifact_type: str | None = None,
    annotations: dict[str, str] | None = None,
) -> bytes:
    """Serialise an image manifest; keys that are None are left out."""
    doc: Json = {"schemaVersion": 2}
    if media_type is not None:
        doc["mediaType"] = media_type
    if artifact_type is not None:
        doc["artifactType"] = artifact_type
    doc["config"] = config
    doc["layers"] = layers
    if subject is not None:
        doc["subject"] = subject
    if annotations is not None:
        doc["annotations"] = annotations
    return json.dumps(doc, indent="\t").encode()


def index_json(
    manifests: list[Json],
    *,
    media_type: str = OCI_INDEX,
    subject: Json | None = None,
    artifact_type: str | None = None,
    annotations: dict[str, str] | None = None,
) -> bytes:
    """Serialise an image index (or a Docker manifest list with `media_type`)."""
    doc: Json = {"schemaVersion": 2, "mediaType": media_type}
    if artifact_type is not None:
        doc["artifactType"] = artifact_type
    doc["manifests"] = manifests
    if subject is not None:
        doc["subject"] = subject
    if annotations is not None:
        doc["annotations"] = annotations
    return json.dumps(doc, indent="\t").encode()


# --- requests ------------------------------------------------------------------------


def start_upload(client: httpx.Client, repo: str) -> httpx.Response:
    """POST a new upload session; asserts 202 and a Location."""
    resp = client.post(f"/v2/{repo}/blobs/uploads/", headers={"Content-Length": "0"})
    assert resp.status_code == 202, resp.text
    assert resp.headers.get("Location"), resp.headers
    return resp


def upload_location(resp: httpx.Response) -> str:
    """The Location of an upload response, usable with the client (absolute or relative)."""
    location = str(resp.headers.get("Location", ""))
    assert location, f"no Location in {resp.status_code} response: {dict(resp.headers)}"
    return location


def with_params(url: str, **params: str) -> httpx.URL:
    """`url` with `params` added to the query it already has.

    An upload Location may carry its own query (Distribution keeps its state there), and
    httpx replaces a URL's query when `params=` is given, so merge explicitly.
    """
    return httpx.URL(url).copy_merge_params(params)


def push_blob(client: httpx.Client, repo: str, data: bytes, algorithm: str = "sha256") -> str:
    """Upload `data` with POST then a single PUT?digest=; returns its digest."""
    digest = digest_of(data, algorithm)
    location = upload_location(start_upload(client, repo))
    resp = client.put(
        with_params(location, digest=digest),
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert resp.status_code == 201, f"blob PUT: {resp.status_code} {resp.text}"
    return digest


def put_manifest(
    client: httpx.Client,
    repo: str,
    reference: str,
    body: bytes,
    media_type: str = OCI_MANIFEST,
) -> httpx.Response:
    return client.put(
        f"/v2/{repo}/manifests/{reference}", content=body, headers={"Content-Type": media_type}
    )


def get_json(resp: httpx.Response) -> Json:
    value = resp.json()
    assert isinstance(value, dict), value
    return value


def assert_error(resp: httpx.Response, status: int | tuple[int, ...], *codes: str) -> Json:
    """Assert an OCI error response: the status, and a first error code among `codes`."""
    statuses = status if isinstance(status, tuple) else (status,)
    assert resp.status_code in statuses, (
        f"expected {statuses} {codes}, got {resp.status_code}: {resp.text[:500]}"
    )
    body = get_json(resp)
    errors = body.get("errors")
    assert isinstance(errors, list), body
    assert errors, body
    for error in errors:
        assert isinstance(error.get("code"), str), error
        assert isinstance(error.get("message"), str), error
    if codes:
        assert errors[0]["code"] in codes, f"expected one of {codes}, got {errors}"
    return body


# --- whole images --------------------------------------------------------------------


@dataclass
class Image:
    """An image pushed (or ready to push): its blobs and its manifest bytes."""

    config: bytes
    layers: list[bytes]
    manifest: bytes
    media_type: str = OCI_MANIFEST
    tags: list[str] = field(default_factory=list)

    @property
    def digest(self) -> str:
        return sha256(self.manifest)

    @property
    def config_digest(self) -> str:
        return sha256(self.config)

    @property
    def layer_digests(self) -> list[str]:
        return [sha256(layer) for layer in self.layers]

    def descriptor(self, **extra: Any) -> Json:
        return descriptor(self.media_type, self.manifest, **extra)


def make_image(
    layer_count: int = 1,
    layer_size: int = 1024,
    *,
    subject: Json | None = None,
    artifact_type: str | None = None,
    annotations: dict[str, str] | None = None,
) -> Image:
    """A fresh random image (not pushed)."""
    config = random_config()
    layers = [random_bytes(layer_size) for _ in range(layer_count)]
    manifest = manifest_json(
        descriptor(OCI_CONFIG, config),
        [descriptor(OCI_LAYER, layer) for layer in layers],
        subject=subject,
        artifact_type=artifact_type,
        annotations=annotations,
    )
    return Image(config=config, layers=layers, manifest=manifest)


def push_image_blobs(client: httpx.Client, repo: str, image: Image) -> None:
    push_blob(client, repo, image.config)
    for layer in image.layers:
        push_blob(client, repo, layer)


def push_image(
    client: httpx.Client,
    repo: str,
    tag: str | None = "latest",
    image: Image | None = None,
) -> Image:
    """Push an image's blobs and its manifest (by `tag`, or by digest when tag is None)."""
    image = image or make_image()
    push_image_blobs(client, repo, image)
    reference = tag or image.digest
    resp = put_manifest(client, repo, reference, image.manifest, image.media_type)
    assert resp.status_code == 201, f"manifest PUT: {resp.status_code} {resp.text}"
    if tag:
        image.tags.append(tag)
    return image


def push_artifact(
    client: httpx.Client,
    repo: str,
    subject: Json,
    artifact_type: str,
    annotations: dict[str, str] | None = None,
) -> tuple[str, httpx.Response]:
    """Push an OCI 1.1 artifact (empty config, one small layer) that refers to `subject`.

    Returns the artifact manifest's digest and the manifest PUT response.
    """
    layer = random_bytes(64)
    push_blob(client, repo, EMPTY_JSON)
    push_blob(client, repo, layer)
    body = manifest_json(
        descriptor(OCI_EMPTY, EMPTY_JSON),
        [descriptor(artifact_type, layer)],
        subject=subject,
        artifact_type=artifact_type,
        annotations=annotations,
    )
    digest = sha256(body)
    resp = put_manifest(client, repo, digest, body)
    assert resp.status_code == 201, f"artifact PUT: {resp.status_code} {resp.text}"
    return digest, resp


# --- raw HTTP --------------------------------------------------------------------------


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


ADMIN_AUTHORIZATION = "Basic " + base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode()


def raw_request(
    host: str,
    port: int,
    method: str,
    target: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> RawResponse:
    """Send `target` exactly as given (httpx would normalise `..` and percent-escapes)."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        # Signed in as the test servers' administrator unless the caller says otherwise.
        all_headers = {"Content-Length": str(len(body or b"")),
                       "Authorization": ADMIN_AUTHORIZATION, **(headers or {})}
        for name, value in all_headers.items():
            conn.putheader(name, value)
        conn.endheaders(body)
        resp = conn.getresponse()
        return RawResponse(
            status=resp.status,
            headers={k.lower(): v for k, v in resp.getheaders()},
            body=resp.read(),
        )
    finally:
        conn.close()
