"""The storage driver protocol (after Distribution's storagedriver.go, smaller).

A driver stores opaque bytes under keys from `storage.keys`. Digests, deduplication and
the write order between bytes and metadata live above it, in `registry.blobs`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable


class NotFoundError(KeyError):
    """The key does not exist."""


@dataclass(frozen=True, slots=True)
class FileInfo:
    key: str
    size: int
    modified: float


class Writer(Protocol):
    """Appends bytes to one key. Nothing is durable until `commit`."""

    @property
    def size(self) -> int: ...

    def write(self, data: bytes) -> None: ...

    def commit(self) -> None: ...

    def cancel(self) -> None: ...


class StorageDriver(Protocol):
    def stat(self, key: str) -> FileInfo | None: ...

    def read(self, key: str, offset: int = 0, length: int | None = None,
             chunk_size: int = 1 << 20) -> Iterator[bytes]: ...

    def writer(self, key: str, *, append: bool = False) -> Writer: ...

    def get(self, key: str) -> bytes: ...

    def put(self, key: str, data: bytes) -> None: ...

    def list(self, prefix: str) -> Iterator[str]: ...

    def move(self, src: str, dst: str) -> None: ...

    def delete(self, key: str) -> None:
        """Delete a key or every key under a prefix; a missing key is not an error."""

    def local_path(self, key: str) -> Path | None:
        """A filesystem path serving the key's bytes directly, if the driver has one."""


# -- optional capabilities ----------------------------------------------------------
# The core above stays small; a driver that can do more says so by also implementing one
# of these (checked with isinstance, hence runtime_checkable).


@runtime_checkable
class Presigner(Protocol):
    def presigned_url(self, key: str, expires_in: int) -> str:
        """A URL any HTTP client can GET the key's bytes from for `expires_in` seconds."""


@runtime_checkable
class MultipartJanitor(Protocol):
    def abort_abandoned(self, older_than: float) -> int:
        """Abort multipart uploads that no key names and that are older than `older_than`
        seconds; returns how many were aborted."""
