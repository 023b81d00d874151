"""In-memory driver, for tests and the contract suite."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

from wharf.storage import keys
from wharf.storage.driver import FileInfo, NotFoundError


class MemoryWriter:
    def __init__(self, driver: MemoryDriver, key: str, *, append: bool) -> None:
        self._driver, self._key = driver, key
        self._buf = bytearray(driver.files.get(key, b"") if append else b"")

    @property
    def size(self) -> int:
        return len(self._buf)

    def write(self, data: bytes) -> None:
        self._buf += data

    def commit(self) -> None:
        with self._driver.lock:
            self._driver.files[self._key] = bytes(self._buf)
            self._driver.mtimes[self._key] = time.time()

    def cancel(self) -> None:
        self._buf.clear()


class MemoryDriver:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.mtimes: dict[str, float] = {}
        self.lock = threading.Lock()

    def stat(self, key: str) -> FileInfo | None:
        data = self.files.get(keys.check(key))
        return None if data is None else FileInfo(key, len(data), self.mtimes[key])

    def read(self, key: str, offset: int = 0, length: int | None = None,
             chunk_size: int = 1 << 20) -> Iterator[bytes]:
        data = self.get(key)
        end = len(data) if length is None else min(len(data), offset + length)
        for start in range(offset, end, chunk_size):
            yield data[start:min(end, start + chunk_size)]

    def writer(self, key: str, *, append: bool = False) -> MemoryWriter:
        return MemoryWriter(self, keys.check(key), append=append)

    def get(self, key: str) -> bytes:
        try:
            return self.files[keys.check(key)]
        except KeyError as exc:
            raise NotFoundError(key) from exc

    def put(self, key: str, data: bytes) -> None:
        with self.lock:
            self.files[keys.check(key)] = bytes(data)
            self.mtimes[key] = time.time()

    def list(self, prefix: str) -> Iterator[str]:
        keys.check(prefix)
        yield from sorted(k for k in self.files if k == prefix or k.startswith(prefix + "/"))

    def move(self, src: str, dst: str) -> None:
        with self.lock:
            try:
                self.files[keys.check(dst)] = self.files.pop(keys.check(src))
            except KeyError as exc:
                raise NotFoundError(src) from exc
            self.mtimes[dst] = self.mtimes.pop(src)

    def delete(self, key: str) -> None:
        with self.lock:
            for k in list(self.list(key)):
                self.files.pop(k, None)
                self.mtimes.pop(k, None)

    def local_path(self, key: str) -> Path | None:
        return None
