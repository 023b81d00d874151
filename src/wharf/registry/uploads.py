"""Blob upload sessions: bytes streamed to storage, hashed on the way, verified on commit.

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
import time
import uuid
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
_SESSION_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Chunks from the HTTP server are small; batching them keeps syscalls and thread hops few.
BATCH_BYTES = 4 << 20
_HASH_ALGORITHM = "sha256"


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
        self.on_commit: list[Callable[[Digest], None]] = []

    def start(self, repository_id: int) -> UploadState:
        session_id = str(uuid.uuid4())
        self._meta.create_upload(session_id, repository_id)
        return UploadState(session_id, 0)

    def _check(self, repository_id: int, session_id: str) -> None:
        if not _SESSION_ID.match(session_id):
            raise RegistryError(errors.BLOB_UPLOAD_UNKNOWN, {"session": session_id[:64]})
        row = self._meta.get_upload(session_id)
        if row is None or row.repository_id != repository_id:
            raise RegistryError(errors.BLOB_UPLOAD_UNKNOWN, {"session": session_id})

    def _offset(self, session_id: str) -> int:
        info = self._driver.stat(keys.upload(session_id))
        return 0 if info is None else info.size

    def status(self, repository_id: int, session_id: str) -> UploadState:
        self._check(repository_id, session_id)
        return UploadState(session_id, self._offset(session_id))

    def _lock(self, session_id: str) -> asyncio.Lock:
        return self._locks.setdefault(session_id, asyncio.Lock())

    async def append(self, repository_id: int, session_id: str, body: AsyncIterator[bytes],
                     start: int | None, length: int | None) -> UploadState:
        """Append a chunk. `start`, when given, must be the current offset (else 416)."""
        await to_thread.run_sync(self._check, repository_id, session_id)
        async with self._lock(session_id):
            offset = self._offset(session_id)
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
        await to_thread.run_sync(self._check, repository_id, session_id)
        async with self._lock(session_id):
            offset = self._offset(session_id)
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

    def _commit(self, repository_id: int, session_id: str, digest: Digest, size: int,
                has_row: bool = True) -> None:
        target = keys.blob(digest)

        def place() -> None:
            # Runs under the digest's lock (see MetadataStore.link_blob), so bytes GC is
            # deleting are either gone already (and moved in again here) or kept.
            existing = self._driver.stat(target)
            if existing is None or existing.size != size:
                self._driver.move(keys.upload(session_id), target)

        # The session's row goes in the same transaction that links the blob.
        self._meta.link_blob(repository_id, str(digest), size, place,
                             upload_id=session_id if has_row else None)
        for listener in self.on_commit:
            try:
                listener(digest)
            except Exception:
                log.exception("blob commit listener failed for %s", digest)
        self._discard(session_id, row=False)

    def _discard(self, session_id: str, *, row: bool = True) -> None:
        if row:
            self._meta.delete_upload(session_id)
        self._driver.delete(keys.upload_dir(session_id))
        self._hashers.pop(session_id, None)

    async def store(self, repository_id: int, digest: Digest,
                    body: AsyncIterator[bytes]) -> int:
        """A whole blob in one request (monolithic upload): no session row is needed, as
        nothing outlives the request; bytes of a crashed one are swept by `sweep_orphans`."""
        session_id = str(uuid.uuid4())
        try:
            size = await self._stream(session_id, 0, body)
            await self._verify(session_id, digest, size)
            await to_thread.run_sync(self._commit, repository_id, session_id, digest, size,
                                     False)
        except BaseException:
            await to_thread.run_sync(self._driver.delete, keys.upload_dir(session_id))
            raise
        return size

    def _idle(self, session_id: str) -> bool:
        info = self._driver.stat(keys.upload(session_id))
        return info is None or info.modified < time.time() - self._ttl.total_seconds()

    def sweep_orphans(self) -> int:
        """Delete idle upload bytes that have no session row (a crashed monolithic upload)."""
        swept = 0
        for key in list(self._driver.list("uploads")):
            parts = key.split("/")
            if len(parts) < 2 or not _SESSION_ID.match(parts[1]):
                continue
            session_id = parts[1]
            if self._meta.get_upload(session_id) is None and self._idle(session_id):
                self._driver.delete(keys.upload_dir(session_id))
                swept += 1
        return swept

    def cancel(self, repository_id: int, session_id: str) -> None:
        self._check(repository_id, session_id)
        self._discard(session_id)
        self._locks.pop(session_id, None)

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
