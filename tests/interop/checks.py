"""Assertions about what the registry holds, made over plain HTTP after a client pushed."""

from __future__ import annotations

from collections.abc import Iterable

import httpx

from tests.support.images import (
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Blob,
    sha256_digest,
)

MANIFEST_MEDIA_TYPES = frozenset(
    {
        OCI_MANIFEST,
        OCI_INDEX,
        DOCKER_MANIFEST,
        "application/vnd.docker.distribution.manifest.list.v2+json",
    }
)
ACCEPT_ALL_MANIFESTS = ", ".join(sorted(MANIFEST_MEDIA_TYPES))


def get_manifest(client: httpx.Client, repo: str, reference: str) -> httpx.Response:
    return client.get(
        f"/v2/{repo}/manifests/{reference}", headers={"Accept": ACCEPT_ALL_MANIFESTS}
    )


def assert_registry_serves(client: httpx.Client, repo: str, blobs: Iterable[Blob]) -> None:
    """Every manifest and blob is served from ``repo`` byte for byte, with its media type."""
    for blob in blobs:
        if blob.media_type in MANIFEST_MEDIA_TYPES:
            resp = get_manifest(client, repo, blob.digest)
            assert resp.status_code == 200, (blob.digest, resp.text)
            assert resp.headers["content-type"] == blob.media_type
        else:
            resp = client.get(f"/v2/{repo}/blobs/{blob.digest}", follow_redirects=True)
            assert resp.status_code == 200, (blob.digest, resp.text)
        assert sha256_digest(resp.content) == blob.digest
        assert resp.content == blob.data
