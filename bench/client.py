"""A small asyncio OCI distribution client (aiohttp) used for every scenario."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import AsyncIterable
from typing import Any
from urllib.parse import quote, urljoin

import aiohttp
from yarl import URL

from bench.data import OCI_MANIFEST, Blob, SyntheticBlob, aiter_chunks

MiB = 1024 * 1024
LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


class RegistryError(Exception):
    """The registry answered with an unexpected status."""


CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
CATALOG_SCOPE = "registry:catalog:*"
TOKEN_BATCH = 50


def repo_scope(repo: str) -> str:
    return f"repository:{repo}:pull,push"


class RegistryClient:
    """One aiohttp session against one registry; all requests go to its loopback address.

    With credentials, it authenticates as docker does: `GET /v2/` names the token realm in
    its Bearer challenge, tokens are fetched with Basic credentials per scope (or many
    scopes at once with `authorize`) and sent as `Authorization: Bearer`. Without a
    challenge (Distribution as configured here) no header is sent.
    """

    def __init__(self, base_url: str, connections: int = 128,
                 credentials: tuple[str, str] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None
        self._credentials = credentials
        self._realm: str | None = None
        self._service: str | None = None
        self._tokens: dict[str, tuple[str, float]] = {}
        self._fetching: dict[str, asyncio.Task[None]] = {}

    async def __aenter__(self) -> RegistryClient:
        connector = aiohttp.TCPConnector(limit=self._connections, force_close=False)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=120),
            read_bufsize=4 * MiB,
            auto_decompress=False,
        )
        await self._discover_auth()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("use RegistryClient as an async context manager")
        return self._session

    # --- authentication ---------------------------------------------------------------

    @property
    def uses_tokens(self) -> bool:
        return self._realm is not None

    def _basic(self) -> aiohttp.BasicAuth | None:
        return aiohttp.BasicAuth(*self._credentials) if self._credentials else None

    async def _discover_auth(self) -> None:
        async with self.session.get(f"{self.base_url}/v2/") as resp:
            await resp.read()
            if resp.status == 200:
                return
            challenge = resp.headers.get("WWW-Authenticate", "")
            if resp.status != 401 or not challenge.lower().startswith("bearer "):
                raise RegistryError(f"GET /v2/ -> {resp.status}, challenge {challenge!r}")
        params = dict(CHALLENGE_PARAM.findall(challenge))
        if "realm" not in params:
            raise RegistryError(f"Bearer challenge without realm: {challenge!r}")
        if self._credentials is None:
            raise RegistryError("the registry wants a token and no credentials were given")
        if not params["realm"].startswith(self.base_url + "/"):
            raise RegistryError(f"token realm {params['realm']!r} is not on {self.base_url}")
        self._realm = params["realm"]
        self._service = params.get("service")

    async def _fetch_tokens(self, scopes: list[str]) -> None:
        """One token for all these scopes (the token spec repeats `scope`)."""
        assert self._realm is not None
        query: list[tuple[str, str]] = [("scope", scope) for scope in scopes]
        if self._service:
            query.append(("service", self._service))
        async with self.session.get(self._realm, params=query, auth=self._basic()) as resp:
            await self._expect(resp, 200)
            doc: dict[str, Any] = await resp.json(content_type=None)
        token = doc.get("token") or doc.get("access_token")
        if not token:
            raise RegistryError(f"token endpoint answered without a token: {doc}")
        refresh_at = time.monotonic() + 0.8 * float(doc.get("expires_in") or 60)
        for scope in scopes:
            self._tokens[scope] = (str(token), refresh_at)

    def _fresh(self, scope: str) -> str | None:
        entry = self._tokens.get(scope)
        return entry[0] if entry and entry[1] > time.monotonic() else None

    async def authorize(self, scopes: list[str], also: tuple[str, ...] = ()) -> None:
        """Fetch tokens for every scope that has none, TOKEN_BATCH scopes per request; each
        token also carries the `also` scopes (e.g. pull on a repository to mount from)."""
        if not self.uses_tokens:
            return
        missing = [s for s in dict.fromkeys(scopes) if self._fresh(s) is None]
        for i in range(0, len(missing), TOKEN_BATCH):
            await self._fetch_tokens([*missing[i : i + TOKEN_BATCH], *also])

    async def auth_headers(self, scope: str) -> dict[str, str]:
        """The Authorization header for scope (empty for a registry without auth)."""
        if not self.uses_tokens:
            return {}
        token = self._fresh(scope)
        if token is None:
            task = self._fetching.get(scope)
            if task is None:  # one fetch per scope, however many requests wait for it
                task = asyncio.ensure_future(self._fetch_tokens([scope]))
                self._fetching[scope] = task
                task.add_done_callback(lambda _t: self._fetching.pop(scope, None))
            await task
            token = self._fresh(scope)
            if token is None:
                raise RegistryError(f"no token for {scope}")
        return {"Authorization": f"Bearer {token}"}

    async def _repo_headers(self, repo: str, **extra: str) -> dict[str, str]:
        return {**await self.auth_headers(repo_scope(repo)), **extra}

    async def ensure_project(self, project: str) -> None:
        """wharf only: create the project (the first path component) if it is missing."""
        if not self.uses_tokens:
            return
        async with self.session.post(f"{self.base_url}/api/v1/projects",
                                     json={"name": project}, auth=self._basic()) as resp:
            await self._expect(resp, 201, 409)
            await resp.read()

    # --- requests -----------------------------------------------------------------------

    def _abs(self, location: str) -> str:
        return urljoin(self.base_url + "/", location)

    @staticmethod
    async def _expect(resp: aiohttp.ClientResponse, *statuses: int) -> None:
        if resp.status not in statuses:
            body = (await resp.read())[:300].decode(errors="replace")
            raise RegistryError(
                f"{resp.method} {resp.url.path} -> {resp.status} (wanted {statuses}): {body}")

    @staticmethod
    def _with_digest(location: str, digest: str) -> URL:
        # Keep the server's own query (Distribution's _state) byte for byte.
        sep = "&" if "?" in location else "?"
        return URL(f"{location}{sep}digest={quote(digest, safe='')}", encoded=True)

    async def start_upload(self, repo: str) -> str:
        async with self.session.post(f"{self.base_url}/v2/{repo}/blobs/uploads/",
                                     headers=await self._repo_headers(repo)) as resp:
            await self._expect(resp, 202)
            await resp.read()
            return self._abs(resp.headers["Location"])

    async def push_monolithic(self, repo: str, digest: str, size: int,
                              body: bytes | AsyncIterable[memoryview | bytes]) -> None:
        """POST an upload, then PUT ?digest= with the whole body in one request."""
        location = await self.start_upload(repo)
        headers = await self._repo_headers(repo, **{
            "Content-Type": "application/octet-stream", "Content-Length": str(size)})
        async with self.session.put(self._with_digest(location, digest), data=body,
                                    headers=headers) as resp:
            await self._expect(resp, 201)
            await resp.read()

    async def push_chunked(self, repo: str, blob: SyntheticBlob, chunk_size: int) -> None:
        """POST an upload, PATCH chunk_size pieces with Content-Range, then PUT ?digest=."""
        location = await self.start_upload(repo)
        for start, pieces in blob.ranges(chunk_size):
            size = sum(len(p) for p in pieces)
            headers = await self._repo_headers(repo, **{
                "Content-Type": "application/octet-stream",
                "Content-Length": str(size),
                "Content-Range": f"{start}-{start + size - 1}",
            })
            async with self.session.patch(URL(location, encoded=True),
                                          data=aiter_chunks(pieces), headers=headers) as resp:
                await self._expect(resp, 202)
                await resp.read()
                location = self._abs(resp.headers["Location"])
        async with self.session.put(
                self._with_digest(location, blob.digest),
                headers=await self._repo_headers(repo, **{"Content-Length": "0"})) as resp:
            await self._expect(resp, 201)
            await resp.read()

    async def blob_exists(self, repo: str, digest: str) -> bool:
        async with self.session.head(f"{self.base_url}/v2/{repo}/blobs/{digest}",
                                     headers=await self._repo_headers(repo)) as resp:
            if resp.status == 404:
                return False
            await self._expect(resp, 200)
            return True

    async def push_small_blob(self, repo: str, blob: Blob) -> None:
        """What docker and containerd do per blob: HEAD, and if missing POST then PUT."""
        if not await self.blob_exists(repo, blob.digest):
            await self.push_monolithic(repo, blob.digest, len(blob.data), blob.data)

    async def mount_blob(self, repo: str, digest: str, from_repo: str) -> bool:
        """Cross-repository mount; False when the registry opened an upload instead."""
        url = (f"{self.base_url}/v2/{repo}/blobs/uploads/"
               f"?mount={quote(digest, safe='')}&from={quote(from_repo, safe='')}")
        headers = await self._repo_headers(repo)
        async with self.session.post(URL(url, encoded=True), headers=headers) as resp:
            await self._expect(resp, 201, 202)
            await resp.read()
            if resp.status == 202:  # not mounted: cancel the upload we were given
                cancel = self._abs(resp.headers["Location"])
                async with self.session.delete(URL(cancel, encoded=True), headers=headers) as d:
                    await d.read()
                return False
            return True

    async def put_manifest(self, repo: str, reference: str, body: bytes,
                           media_type: str = OCI_MANIFEST) -> float:
        """PUT a manifest; returns the request's latency in seconds."""
        headers = await self._repo_headers(repo, **{"Content-Type": media_type})
        t0 = time.perf_counter()
        async with self.session.put(f"{self.base_url}/v2/{repo}/manifests/{reference}",
                                    data=body, headers=headers) as resp:
            await self._expect(resp, 201)
            await resp.read()
        return time.perf_counter() - t0

    async def get_manifest(self, repo: str, reference: str) -> bytes:
        headers = await self._repo_headers(repo, Accept=OCI_MANIFEST)
        async with self.session.get(f"{self.base_url}/v2/{repo}/manifests/{reference}",
                                    headers=headers) as resp:
            await self._expect(resp, 200)
            return await resp.read()

    async def pull_blob(self, repo: str, digest: str, expected_size: int) -> int:
        """GET a blob, hashing it as it streams; raises unless size and digest match.

        Hashing inline on whatever the socket delivered measured faster here than handing
        chunks to a thread (2 cores shared with the server).
        """
        h = hashlib.sha256()
        received = 0
        async with self.session.get(f"{self.base_url}/v2/{repo}/blobs/{digest}",
                                    headers=await self._repo_headers(repo)) as resp:
            await self._expect(resp, 200)
            async for chunk in resp.content.iter_any():
                h.update(chunk)
                received += len(chunk)
        got = "sha256:" + h.hexdigest()
        if received != expected_size or got != digest:
            raise RegistryError(
                f"pulled {repo}@{digest}: {received} bytes, digest {got} "
                f"(wanted {expected_size} bytes)")
        return received

    async def list_paginated(self, path: str, key: str, page_size: int, scope: str
                             ) -> tuple[list[str], int]:
        """Follow Link: rel="next" from path?n=page_size; returns (all items, pages fetched)."""
        items: list[str] = []
        pages = 0
        url: str | None = f"{self.base_url}{path}?n={page_size}"
        while url is not None:
            headers = await self.auth_headers(scope)
            async with self.session.get(URL(url, encoded=True), headers=headers) as resp:
                await self._expect(resp, 200)
                doc: dict[str, Any] = await resp.json(content_type=None)
                link = resp.headers.get("Link")
            pages += 1
            items.extend(doc.get(key) or [])
            match = LINK_NEXT.search(link) if link else None
            url = self._abs(match.group(1)) if match else None
            if pages > 100_000:
                raise RegistryError(f"{path}: pagination did not end after {pages} pages")
        return items, pages

