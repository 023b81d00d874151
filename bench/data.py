"""Test data, generated before any timing starts."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import tarfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

MiB = 1024 * 1024
STREAM_CHUNK = 1 * MiB

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def sha256_digest(data: bytes | memoryview) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class SyntheticBlob:
    """A large blob made of a shared random buffer, unique by a 16-byte prefix.

    The bytes are never materialised: they stream as memoryview slices of the base buffer,
    so a 2 GiB blob costs no client memory beyond the base buffer.
    """

    def __init__(self, base: bytes, size: int, label: str) -> None:
        if len(base) < 2 * STREAM_CHUNK or len(base) % STREAM_CHUNK:
            raise ValueError("base buffer must be a multiple of the stream chunk, >= 2 chunks")
        self.size = size
        self._base = memoryview(base)
        self._prefix = hashlib.sha256(label.encode()).digest()[:16]
        self.digest = self._compute_digest()

    def _compute_digest(self) -> str:
        h = hashlib.sha256()
        for chunk in self.chunks():
            h.update(chunk)
        return "sha256:" + h.hexdigest()

    def chunks(self, chunk_size: int = STREAM_CHUNK) -> Iterator[memoryview | bytes]:
        """The blob's bytes in order, as slices of at most chunk_size bytes."""
        sent = 0
        base_len = len(self._base)
        while sent < self.size:
            offset = sent % base_len
            n = min(chunk_size, base_len - offset, self.size - sent)
            piece: memoryview | bytes = self._base[offset : offset + n]
            if sent == 0:  # the unique prefix: only this one chunk is copied
                head = self._prefix[:n]
                piece = head + bytes(piece[len(head) :])
            yield piece
            sent += n

    def ranges(self, part_size: int) -> Iterator[tuple[int, list[memoryview | bytes]]]:
        """(start offset, chunks) for consecutive parts of part_size bytes, for PATCH uploads."""
        part: list[memoryview | bytes] = []
        part_len = 0
        start = 0
        for chunk in self.chunks():
            view = memoryview(chunk)
            while len(view) > 0:
                take = min(len(view), part_size - part_len)
                part.append(view[:take])
                part_len += take
                view = view[take:]
                if part_len == part_size:
                    yield start, part
                    start += part_len
                    part, part_len = [], 0
        if part_len:
            yield start, part


async def aiter_chunks(chunks: Iterator[memoryview | bytes] | list[memoryview | bytes]
                       ) -> AsyncIterator[memoryview | bytes]:
    for chunk in chunks:
        yield chunk


def random_base(size: int, seed: int = 1) -> bytes:
    """Incompressible, reproducible random bytes (randbytes in 64 MiB pieces: it takes < 2 GiB)."""
    rng = random.Random(seed)
    piece = 64 * MiB
    return b"".join(rng.randbytes(min(piece, size - off)) for off in range(0, size, piece))


@dataclass(frozen=True)
class Blob:
    digest: str
    data: bytes
    media_type: str


@dataclass(frozen=True)
class SmallImage:
    repo: str
    tag: str
    config: Blob
    layers: tuple[Blob, ...]
    manifest: bytes
    manifest_digest: str

    @property
    def blobs(self) -> tuple[Blob, ...]:
        return (self.config, *self.layers)


def make_manifest(config: Blob, layers: tuple[Blob, ...]) -> bytes:
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": config.media_type, "digest": config.digest,
                   "size": len(config.data)},
        "layers": [{"mediaType": layer.media_type, "digest": layer.digest,
                    "size": len(layer.data)} for layer in layers],
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def make_config(label: str) -> Blob:
    doc = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": {"bench": label}},
        "rootfs": {"type": "layers", "diff_ids": []},
    }
    data = json.dumps(doc, separators=(",", ":")).encode()
    return Blob(sha256_digest(data), data, OCI_CONFIG)


def make_layer(name: str, content: bytes) -> bytes:
    """A real gzip-compressed tar layer holding one file, as a build would push: a
    registry that inspects layers (wharf indexes them for scanning) sees real work."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(f"opt/bench/{name}")
        info.size, info.mtime, info.mode = len(content), 0, 0o644
        tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue(), compresslevel=1, mtime=0)


def make_small_images(count: int, repos: int, prefix: str, seed: int = 2) -> list[SmallImage]:
    """count images of a config and 3 layers (gzip tars of one random 4-64 KiB file:
    incompressible, so each layer is about that size), spread over repos."""
    rng = random.Random(seed)
    images = []
    for i in range(count):
        config = make_config(f"{prefix}-{i}")
        layers = []
        for n in range(3):
            data = make_layer(f"{prefix}-{i}-{n}",
                              rng.randbytes(rng.randint(4 * 1024, 64 * 1024)))
            layers.append(Blob(sha256_digest(data), data, OCI_LAYER))
        layer_tuple = tuple(layers)
        manifest = make_manifest(config, layer_tuple)
        images.append(SmallImage(
            repo=f"bench/{prefix}-{i % repos}", tag=f"v{i}", config=config, layers=layer_tuple,
            manifest=manifest, manifest_digest=sha256_digest(manifest),
        ))
    return images
