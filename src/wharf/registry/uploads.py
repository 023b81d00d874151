"""Blob upload sessions: bytes streamed to storage, hashed on the way, verified on commit.

A session is its bytes in storage and nothing else: no database row. Its id is a random
part and the repository's id (`<32 hex>-<repository id in hex>`), and it exists while
`uploads/<id>/data` does: created empty when the session starts, gone when the blob is
committed, the session cancelled, or left idle for the upload TTL (the bytes'
modification time says when it was last written). The random part makes an id
unguessable and the repository part binds it to the repository it was opened in; a
pushed blob thereby costs one database write, the one that links it.

Write order (docs/adr/0001-write-order.md): the bytes are fsynced and moved to their
content-addressed key before the blob's row is written, so a row always names bytes that
exist. Hashing happens while streaming; the running hash lives in this process only, and
when a session continues elsewhere (another worker, a restart) it is rebuilt from the
stored bytes, which are the single source of truth for an upload's offset.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from anyio import to_thread

from wharf import errors
from wharf.errors import RegistryError
from wharf.metadata.store import MetadataStore
from wharf.oci.digest import Digest, new_hasher
from wharf.storage import keys
from wharf.storage.driver import StorageDriver, Writer

if TYPE_CHECKING:
    from hashlib import _Hash

log = logging.getLogger("wharf.registry")
_SESSION_ID = re.compile(r"^([0-9a-f]{32})-([0-9a-f]{1,15})$")
# Chunks from the HTTP server are small; batching them keeps syscalls and thread hops few.
BATCH_BYTES = 4 << 20
_HASH_ALGORITHM = "sha256"


def new_session_id(repository_id: int) -> str:
    return f"{secrets.token_hex(16)}-{repository_id:x}"


def session_repository(session_id: str) -> int | None:
    """The repository a session id was issued for; None if it is not a session id."""
    match = _SESSION_ID.match(session_id)
    return None if match is None else int(match[2], 16)


@dataclass(frozen=True, slots=True)
class UploadState:
    id: str
    offset: int


class UploadManager:
    def __init__(self, meta: MetadataStore, driver: StorageDriver,
                 ttl: timedelta = timedelta(hours=24)) -> None:
        self._meta = meta
        self._driver = driver
        # A session is idle when its bytes were last written longer ago than this. The
        # bytes' modification time says so without a database write per chunk.
        self._ttl = ttl
        self._hashers: dict[str, tuple[int, _Hash]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        # Called after each commit (layer indexing); failures are logged, not raised.
        self.on_commit: list[Callable[[Digest, int], None]] = []

    def start(self, repository_id: int) -> UploadState:
        session_id = new_session_id(repository_id)
        self._driver.writer(keys.upload(session_id), append=True).commit()
        return UploadState(session_id, 0)

    def _offset(self, repository_id: int, session_id: str) -> int:
        """The session's offset (bytes stored so far); BLOB_UPLOAD_UNKNOWN unless the
        session is open in this repository."""
        info = None
        if session_repository(session_id) == repository_id:
            info = self._driver.stat(keys.upload(session_id))
        if info is None:
            raise RegistryError(errors.BLOB_UPLOAD_UNKNOWN, {"session": session_id[:80]})
        return info.size

    def status(self, repository_id: int, session_id: str) -> UploadState:
        return UploadState(session_id, self._offset(repository_id, session_id))

    def _lock(self, session_id: str) -> asyncio.Lock:
        return self._locks.setdefault(session_id, asyncio.Lock())

    async def append(self, repository_id: int, session_id: str, body: AsyncIterator[bytes],
                     start: int | None, length: int | None) -> UploadState:
        """Append a chunk. `start`, when given, must be the current offset (else 416)."""
        async with self._lock(session_id):
            offset = await to_thread.run_sync(self._offset, repository_id, session_id)
            if start is not None and start != offset:
                raise RegistryError(errors.RANGE_INVALID,
                                    {"offset": offset, "requested_start": start})
            written = await self._stream(session_id, offset, body)
            if length is not None and written != length:
                raise RegistryError(errors.SIZE_INVALID,
                                    {"content_length": length, "received": written})
            return UploadState(session_id, offset + written)

    async def _stream(self, session_id: str, offset: int, body: AsyncIterator[bytes]) -> int:
        cached = self._hashers.pop(session_id, None)
        hasher = cached[1] if cached is not None and cached[0] == offset else None
        if hasher is None and offset == 0:
            hasher = new_hasher(_HASH_ALGORITHM)
        writer = self._driver.writer(keys.upload(session_id), append=True)
        written = 0
        batch: list[bytes] = []
        batched = 0
        # While the next batch is received, the last one is written in one thread and
        # hashed in another: page-cache writes here are slower than sha256, so doing them
        # side by side rather than one after the other is most of the push's speed.
        pipeline = _Pipeline(writer, hasher)
        try:
            async for chunk in body:
                batch.append(chunk)
                batched += len(chunk)
                if batched >= BATCH_BYTES:
                    await pipeline.submit(b"".join(batch))
                    written += batched
                    batch, batched = [], 0
            if batch:
                await pipeline.submit(b"".join(batch))
                written += batched
            await pipeline.drain()
            await to_thread.run_sync(writer.commit)
        except BaseException:
            await pipeline.settle()
            # Bytes already written stay: the offset is what storage holds, which the
            # client learns from the upload status and resumes from.
            await to_thread.run_sync(writer.commit)
            raise
        if hasher is not None:
            self._hashers[session_id] = (offset + written, hasher)
        return written

    async def complete(self, repository_id: int, session_id: str, digest: Digest,
                       body: AsyncIterator[bytes], start: int | None) -> int:
        """Append the last chunk (if any), verify the digest, and commit the blob."""
        async with self._lock(session_id):
            offset = await to_thread.run_sync(self._offset, repository_id, session_id)
            if start is not None and start != offset:
                raise RegistryError(errors.RANGE_INVALID,
                                    {"offset": offset, "requested_start": start})
            offset += await self._stream(session_id, offset, body)
            await self._verify(session_id, digest, offset)
            await to_thread.run_sync(self._commit, repository_id, session_id, digest, offset)
        self._locks.pop(session_id, None)
        return offset

    async def _verify(self, session_id: str, digest: Digest, size: int) -> None:
        """Check the session's bytes against the digest, with the running hash if it covers
        them all, else by reading them back."""
        cached = self._hashers.pop(session_id, None)
        if digest.algorithm == _HASH_ALGORITHM and cached and cached[0] == size:
            actual = cached[1].hexdigest()
        else:
            actual = await to_thread.run_sync(self._rehash, session_id, digest.algorithm)
        if actual != digest.encoded:
            raise RegistryError(errors.DIGEST_INVALID, {
                "expected": str(digest), "actual": f"{digest.algorithm}:{actual}"})

    def _rehash(self, session_id: str, algorithm: str) -> str:
        hasher = new_hasher(algorithm)
        for chunk in self._driver.read(keys.upload(session_id), chunk_size=BATCH_BYTES):
            hasher.update(chunk)
        return hasher.hexdigest()

    def _commit(self, repository_id: int, session_id: str, digest: Digest, size: int) -> None:
        target = keys.blob(digest)

        def place() -> None:
            # Runs under the digest's lock (see MetadataStore.link_blob), so bytes GC is
            # deleting are either gone already (and moved in again here) or kept.
            existing = self._driver.stat(target)
            if existing is None or existing.size != size:
                self._driver.move(keys.upload(session_id), target)

        self._meta.link_blob(repository_id, str(digest), size, place)
        for listener in self.on_commit:
            try:
                listener(digest, size)
            except Exception:
                log.exception("blob commit listener failed for %s", digest)
        self._discard(session_id)

    def _discard(self, session_id: str) -> None:
        self._driver.delete(keys.upload_dir(session_id))
        self._hashers.pop(session_id, None)

    async def store(self, repository_id: int, digest: Digest,
                    body: AsyncIterator[bytes]) -> int:
        """A whole blob in one request (monolithic upload), under a session of its own;
        the bytes of a crashed one are purged once idle like any other session's."""
        session_id = new_session_id(repository_id)
        try:
            size = await self._stream(session_id, 0, body)
            await self._verify(session_id, digest, size)
            await to_thread.run_sync(self._commit, repository_id, session_id, digest, size)
        except BaseException:
            await to_thread.run_sync(self._driver.delete, keys.upload_dir(session_id))
            raise
        return size

    def cancel(self, repository_id: int, session_id: str) -> None:
        self._offset(repository_id, session_id)
        self._discard(session_id)
        self._locks.pop(session_id, None)

    def _idle(self, session_id: str) -> bool:
        info = self._driver.stat(keys.upload(session_id))
        return info is None or info.modified < time.time() - self._ttl.total_seconds()

    def idle_sessions(self, repository_ids: set[int] | None = None) -> list[str]:
        """Sessions not written to for the upload TTL (of these repositories, if given)."""
        found = []
        for key in self._driver.list("uploads"):
            parts = key.split("/")
            if len(parts) != 3 or parts[2] != "data":
                continue
            repository_id = session_repository(parts[1])
            if repository_id is None or (repository_ids is not None
                                         and repository_id not in repository_ids):
                continue
            if self._idle(parts[1]):
                found.append(parts[1])
        return found

    def purge(self, session_ids: list[str]) -> int:
        """Discard the given sessions unless bytes were written to them recently."""
        purged = 0
        for session_id in session_ids:
            if self._idle(session_id):
                self._discard(session_id)
                purged += 1
        return purged


class _Pipeline:
    """At most one write and one hash update in flight, each in its own thread, in order."""

    def __init__(self, writer: Writer, hasher: _Hash | None) -> None:
        self._writer = writer
        self._hasher = hasher
        self._pending: list[asyncio.Future[None]] = []

    async def submit(self, data: bytes) -> None:
        await self.drain()
        self._pending.append(asyncio.ensure_future(to_thread.run_sync(self._writer.write, data)))
        if self._hasher is not None:
            self._pending.append(
                asyncio.ensure_future(to_thread.run_sync(self._hasher.update, data)))

    async def drain(self) -> None:
        pending, self._pending = self._pending, []
        # Both finish before either's error is raised: nothing may touch the file after.
        for result in await asyncio.gather(*pending, return_exceptions=True):
            if isinstance(result, BaseException):
                raise result

    async def settle(self) -> None:
        """Wait for the threads still using the file, whatever they raise (the caller is
        already handling an error)."""
        pending, self._pending = self._pending, []
        for future in pending:
            with contextlib.suppress(BaseException):
                await asyncio.shield(future)
