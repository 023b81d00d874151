"""Filesystem driver: one file per key under a root directory.

Durability: `Writer.commit` fsyncs the file and `move` renames atomically then fsyncs the
target directory, so a crash leaves either the old state or the new one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from wharf.storage import keys
from wharf.storage.driver import FileInfo, NotFoundError


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileWriter:
    def __init__(self, path: Path, *, append: bool) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._file: BinaryIO = path.open("ab" if append else "wb")
        self._size = self._file.tell()
        self._committed = self._size if append else None

    @property
    def size(self) -> int:
        return self._size

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self._size += len(data)

    def commit(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    def cancel(self) -> None:
        # Only this writer's bytes go: an append keeps what earlier commits stored.
        if self._committed:
            self._file.truncate(self._committed)
            self._file.close()
            return
        self._file.close()
        self._path.unlink(missing_ok=True)


class FilesystemDriver:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / keys.check(key)

    def stat(self, key: str) -> FileInfo | None:
        try:
            st = self._path(key).stat()
        except FileNotFoundError:
            return None
        return FileInfo(key, st.st_size, st.st_mtime)

    def read(self, key: str, offset: int = 0, length: int | None = None,
             chunk_size: int = 1 << 20) -> Iterator[bytes]:
        try:
            f = self._path(key).open("rb")
        except FileNotFoundError as exc:
            raise NotFoundError(key) from exc
        with f:
            f.seek(offset)
            remaining = length
            while remaining is None or remaining > 0:
                want = chunk_size if remaining is None else min(chunk_size, remaining)
                data = f.read(want)
                if not data:
                    return
                if remaining is not None:
                    remaining -= len(data)
                yield data

    def writer(self, key: str, *, append: bool = False) -> FileWriter:
        return FileWriter(self._path(key), append=append)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise NotFoundError(key) from exc

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        tmp = path.with_name(f".{path.name}.tmp")
        w = FileWriter(tmp, append=False)
        w.write(data)
        w.commit()
        os.replace(tmp, path)
        _fsync_dir(path.parent)

    def list(self, prefix: str) -> Iterator[str]:
        base = self._path(prefix)
        if base.is_file():
            yield prefix
            return
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                yield str((Path(dirpath) / name).relative_to(self.root))

    def move(self, src: str, dst: str) -> None:
        source, target = self._path(src), self._path(dst)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(source, target)
        except FileNotFoundError as exc:
            raise NotFoundError(src) from exc
        _fsync_dir(target.parent)

    def delete(self, key: str) -> None:
        path = self._path(key)
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if path.is_file() else None
