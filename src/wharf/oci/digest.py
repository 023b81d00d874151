"""Content digests (OCI image-spec descriptor.md#digests)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hashlib import _Hash

_GRAMMAR = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
# Registered algorithms and the exact shape of their encoded part; anything else that
# matches the grammar is well-formed but unsupported.
_ENCODED = {
    "sha256": re.compile(r"^[a-f0-9]{64}$"),
    "sha512": re.compile(r"^[a-f0-9]{128}$"),
}
MAX_DIGEST_LENGTH = 256


class DigestError(ValueError):
    """A digest string that is malformed or names an algorithm we do not support."""

    def __init__(self, message: str, *, unsupported: bool = False) -> None:
        super().__init__(message)
        self.unsupported = unsupported


@dataclass(frozen=True, slots=True)
class Digest:
    algorithm: str
    encoded: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.encoded}"

    @classmethod
    def parse(cls, text: str) -> Digest:
        if len(text) > MAX_DIGEST_LENGTH or not _GRAMMAR.match(text):
            raise DigestError(f"invalid digest {text[:80]!r}")
        algorithm, encoded = text.split(":", 1)
        shape = _ENCODED.get(algorithm)
        if shape is None:
            raise DigestError(f"unsupported digest algorithm {algorithm!r}", unsupported=True)
        if not shape.match(encoded):
            raise DigestError(f"invalid {algorithm} digest {text[:80]!r}")
        return cls(algorithm, encoded)

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())


def is_digest(reference: str) -> bool:
    """True when a manifest reference is a digest rather than a tag."""
    return ":" in reference


def new_hasher(algorithm: str) -> _Hash:
    if algorithm not in _ENCODED:
        raise DigestError(f"unsupported digest algorithm {algorithm!r}", unsupported=True)
    return hashlib.new(algorithm)
