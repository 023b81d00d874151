"""The CLI's side of /v2: what `wharf image sign` and `verify` need of the registry, as
the saved login (`wharf login`), like any other registry client would do it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from wharf.cli.client import Login, fail
from wharf.oci import mediatypes as mt
from wharf.oci.digest import Digest

MANIFEST_ACCEPT = ", ".join(sorted(mt.MANIFESTS))


def _error(resp: httpx.Response) -> str:
    try:
        first = resp.json()["errors"][0]
        return f"{first['code'].lower()}: {first['message']}"
    except (ValueError, KeyError, IndexError, TypeError):
        return f"HTTP {resp.status_code}"


class RegistryClient:
    def __init__(self, login: Login) -> None:
        self.server = login.server.rstrip("/")
        self.host = urlsplit(self.server).netloc
        self.http = httpx.Client(base_url=self.server, timeout=60,
                                 auth=httpx.BasicAuth(login.username, login.password))

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            fail(f"cannot reach {self.server}: {exc}")
            raise AssertionError from exc

    def split(self, ref: str) -> tuple[str, str]:
        """`[host/]acme/web:1.0` or `…@sha256:…` -> (repository, tag or digest); a host
        must be this registry's."""
        first, slash, rest = ref.partition("/")
        if slash and ("." in first or ":" in first or first == "localhost"):
            if first != self.host:
                fail(f"{ref} is not on {self.host} (the registry you are logged in to)", 2)
            ref = rest
        if "@" in ref:
            name, _, digest = ref.partition("@")
            return name, digest
        slash_at, colon = ref.rfind("/"), ref.rfind(":")
        if colon > slash_at:
            return ref[:colon], ref[colon + 1:]
        return ref, "latest"

    def resolve(self, name: str, reference: str) -> Digest:
        """The digest a tag points at (HEAD: the pull policy does not gate it)."""
        resp = self._request("HEAD", f"/v2/{name}/manifests/{reference}",
                             headers={"Accept": MANIFEST_ACCEPT})
        if resp.status_code != 200:
            problem = "not found" if resp.status_code == 404 else f"HTTP {resp.status_code}"
            fail(f"{name}:{reference}: {problem}")
        return Digest.parse(resp.headers["docker-content-digest"])

    def manifest(self, name: str, reference: str) -> bytes | None:
        resp = self._request("GET", f"/v2/{name}/manifests/{reference}",
                             headers={"Accept": MANIFEST_ACCEPT})
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            fail(f"{name}:{reference}: {_error(resp)}")
        return resp.content

    def blob(self, name: str, digest: str) -> bytes | None:
        resp = self._request("GET", f"/v2/{name}/blobs/{digest}", follow_redirects=True)
        return resp.content if resp.status_code == 200 else None

    def push_blob(self, name: str, data: bytes) -> None:
        digest = Digest.of(data)
        if self._request("HEAD", f"/v2/{name}/blobs/{digest}").status_code == 200:
            return
        resp = self._request("POST", f"/v2/{name}/blobs/uploads/", params={"digest": str(digest)},
                             content=data, headers={"Content-Type": "application/octet-stream"})
        if resp.status_code != 201:
            fail(f"uploading {digest} to {name}: {_error(resp)}")

    def put_manifest(self, name: str, reference: str, body: bytes, media_type: str) -> None:
        resp = self._request("PUT", f"/v2/{name}/manifests/{reference}", content=body,
                             headers={"Content-Type": media_type})
        if resp.status_code != 201:
            fail(f"pushing {name}:{reference}: {_error(resp)}")

    def referrers(self, name: str, digest: Digest) -> list[dict[str, Any]]:
        resp = self._request("GET", f"/v2/{name}/referrers/{digest}")
        if resp.status_code != 200:
            return []
        manifests = resp.json().get("manifests", [])
        return manifests if isinstance(manifests, list) else []
