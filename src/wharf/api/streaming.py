"""Request bodies, Range headers and streamed blob responses."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator

from anyio import to_thread
from starlette.requests import Request

from wharf import errors
from wharf.errors import RegistryError

_CONTENT_RANGE = re.compile(r"^(?:bytes )?(\d{1,19})-(\d{1,19})(?:/(?:\d{1,19}|\*))?$")
_RANGE = re.compile(r"^bytes=(\d{0,19})-(\d{0,19})$")


def content_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 19:
        raise RegistryError(errors.SIZE_INVALID, {"content_length": raw[:32]})
    return int(raw)


# A Content-Range that cannot be parsed cannot continue any upload: the domain answers it
# with 416 and the upload's current Range, like an out-of-order chunk.
UNPARSABLE_RANGE = (-1, -1)


def chunk_range(request: Request) -> tuple[int, int] | None:
    """The Content-Range of an upload chunk as (start, end) inclusive, if sent."""
    raw = request.headers.get("content-range")
    if raw is None:
        return None
    match = _CONTENT_RANGE.match(raw.strip())
    if match is None or int(match[2]) < int(match[1]):
        return UNPARSABLE_RANGE
    return int(match[1]), int(match[2])


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """A single `Range: bytes=a-b` against a blob of `size`, as (start, end) inclusive.

    None means "whole blob"; an unsatisfiable range raises RANGE_INVALID (416).
    """
    if header is None:
        return None
    match = _RANGE.match(header.strip())
    if match is None or (match[1] == "" and match[2] == ""):
        # Multi-range and other forms are not used by registry clients; serve it whole.
        return None
    if match[1] == "":
        suffix = int(match[2])
        if suffix == 0:
            raise RegistryError(errors.RANGE_INVALID, {"size": size})
        return max(0, size - suffix), size - 1
    start = int(match[1])
    end = int(match[2]) if match[2] else size - 1
    if start >= size or end < start:
        raise RegistryError(errors.RANGE_INVALID, {"size": size})
    return start, min(end, size - 1)


async def body_chunks(request: Request) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        if chunk:
            yield chunk


async def read_limited(request: Request, limit: int) -> bytes:
    """Read a body, refusing it as soon as it passes `limit` bytes."""
    length = content_length(request)
    if length is not None and length > limit:
        raise RegistryError(errors.MANIFEST_TOO_LARGE, {"limit": limit})
    parts: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise RegistryError(errors.MANIFEST_TOO_LARGE, {"limit": limit})
        parts.append(chunk)
    return b"".join(parts)


async def threaded(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Pull a blocking iterator (file reads) from a worker thread, chunk by chunk."""
    sentinel = b""
    while True:
        chunk = await to_thread.run_sync(next, chunks, sentinel)
        if not chunk:
            return
        yield chunk
