"""Layers built in the tests: tar archives from dicts, compressed as asked."""

from __future__ import annotations

import gzip
import io
import tarfile

import zstandard

from wharf.scanning.indexer import LayerIndexer
from wharf.scanning.limits import ScanLimits
from wharf.scanning.model import LayerInventory


def tar_bytes(files: dict[str, bytes], *, symlinks: dict[str, str] | None = None,
              mode: int = 0o644) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            tar.addfile(info, io.BytesIO(data))
        for name, target in (symlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return buf.getvalue()


def index(data: bytes, limits: ScanLimits | None = None, chunk: int = 65536) -> LayerInventory:
    chunks = iter([data[i:i + chunk] for i in range(0, len(data), chunk)] or [b""])
    return LayerIndexer(limits).index(chunks)


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def zst(data: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(data)
