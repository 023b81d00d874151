"""Byte streams for layer indexing: blob chunks -> decompressed bytes, with every byte counted.

Compression is detected from the content (gzip, zstd or none), not the media type, because
clients label layers loosely (Docker media types on zstd layers, `tar` on gzip ones).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import IO, Protocol, cast

import zstandard

from wharf.scanning.limits import Budget, ScanFailed

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_CHUNK = 1 << 20


class Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


class ChunkReader:
    """`read(n)` over an iterator of byte chunks (a storage driver's read)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        # Unread bytes are _buffer[_pos:]: small reads advance a position instead of
        # copying the rest of a megabyte chunk each time.
        self._buffer = b""
        self._pos = 0
        self.consumed = 0

    def _fill(self, size: int) -> None:
        pending = [self._buffer[self._pos:]]
        have = len(pending[0])
        while have < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            pending.append(chunk)
            have += len(chunk)
        self._buffer, self._pos = b"".join(pending), 0

    def read(self, size: int, /) -> bytes:
        if len(self._buffer) - self._pos < size:
            self._fill(size)
        out = self._buffer[self._pos:self._pos + size]
        self._pos += len(out)
        self.consumed += len(out)
        return out

    def peek(self, size: int) -> bytes:
        if len(self._buffer) - self._pos < size:
            self._fill(size)
        return self._buffer[self._pos:self._pos + size]


class _Gzip:
    """Multi-member gzip, decompressed in bounded steps (never more than asked for)."""

    def __init__(self, source: ChunkReader) -> None:
        self._source = source
        self._inflate = zlib.decompressobj(wbits=31)
        self._pending = b""
        self._done = False

    def read(self, size: int, /) -> bytes:
        out: list[bytes] = []
        wanted = size
        try:
            while wanted > 0 and not self._done:
                if not self._pending:
                    self._pending = self._source.read(_CHUNK)
                    if not self._pending:
                        if not self._inflate.eof:
                            raise ScanFailed("gzip stream is truncated")
                        self._done = True
                        break
                data = self._inflate.decompress(self._pending, wanted)
                self._pending = self._inflate.unconsumed_tail
                if self._inflate.eof:
                    # Another gzip member may follow (pigz, concatenated streams); anything
                    # else after the last member (zero padding) ends the stream.
                    rest = self._inflate.unused_data + self._pending
                    if not rest:
                        rest = self._source.read(_CHUNK)
                    if rest[:2] == GZIP_MAGIC:
                        self._inflate = zlib.decompressobj(wbits=31)
                        self._pending = rest
                    else:
                        self._done = True
                out.append(data)
                wanted -= len(data)
        except zlib.error as exc:
            raise ScanFailed(f"broken gzip stream: {exc}") from exc
        return b"".join(out)


class _Zstd:
    def __init__(self, source: ChunkReader) -> None:
        # zstandard only calls read() on its source.
        self._reader = zstandard.ZstdDecompressor().stream_reader(
            cast(IO[bytes], source), read_across_frames=True)

    def read(self, size: int, /) -> bytes:
        try:
            data: bytes = self._reader.read(size)
        except zstandard.ZstdError as exc:
            raise ScanFailed(f"broken zstd stream: {exc}") from exc
        return data


class Decompressed:
    """The layer's tar bytes, charged against the budget's byte and ratio limits."""

    def __init__(self, chunks: Iterator[bytes], budget: Budget) -> None:
        self._source = ChunkReader(chunks)
        self._budget = budget
        head = self._source.peek(4)
        self._inner: Readable
        if head.startswith(GZIP_MAGIC):
            self.compression = "gzip"
            self._inner = _Gzip(self._source)
        elif head.startswith(ZSTD_MAGIC):
            self.compression = "zstd"
            self._inner = _Zstd(self._source)
        else:
            self.compression = "none"
            self._inner = self._source
        self.produced = 0

    @property
    def consumed(self) -> int:
        """Compressed bytes read so far."""
        return self._source.consumed

    def read(self, size: int, /) -> bytes:
        data = self._inner.read(size)
        self.produced += len(data)
        limits = self._budget.limits
        if self.produced > limits.max_decompressed_bytes:
            raise ScanFailed(
                f"layer decompresses to more than {limits.max_decompressed_bytes} bytes")
        if (self.compression != "none" and self.produced > limits.ratio_grace_bytes
                and self.produced > limits.max_compression_ratio * max(self._source.consumed, 1)):
            raise ScanFailed("decompression bomb: output exceeds "
                             f"{limits.max_compression_ratio}x the compressed size")
        return data


def looks_like_layer(head: bytes) -> bool:
    """Whether a blob's first bytes are a compressed stream or a tar header."""
    if head.startswith((GZIP_MAGIC, ZSTD_MAGIC)):
        return True
    return len(head) >= 512 and head[257:262] == b"ustar"
