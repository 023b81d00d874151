"""Build repository graphs by hand for planner tests."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from wharf.metadata.lifecycle_store import (
    BlobLink,
    ManifestNode,
    RepositoryGraph,
    RepositoryRow,
    TagRow,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def dig(name: str) -> str:
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


class GraphBuilder:
    def __init__(self, name: str = "acme/web") -> None:
        self.repo = RepositoryRow(1, name, name.split("/", maxsplit=1)[0])
        self.tags: list[TagRow] = []
        self.manifests: dict[str, ManifestNode] = {}
        self.blobs: dict[str, BlobLink] = {}
        self.children_anywhere: set[str] = set()

    def blob(self, name: str, size: int = 100, age: timedelta = timedelta(days=30)) -> str:
        digest = dig(name)
        self.blobs[digest] = BlobLink(digest, size, NOW - age)
        return digest

    def image(self, name: str, age: timedelta, *, layers: tuple[str, ...] = (),
              subject: str | None = None, children: tuple[str, ...] = (),
              tags: tuple[str, ...] = (), tag_age: timedelta | None = None) -> str:
        digest = dig(name)
        blobs = (self.blob(f"{name}-config"), *(self.blob(layer) for layer in layers))
        media = OCI_INDEX if children else OCI_MANIFEST
        self.manifests[digest] = ManifestNode(digest, NOW - age, media, None, subject, 500,
                                              tuple(children), () if children else blobs)
        self.children_anywhere |= set(children)
        for tag in tags:
            self.tag(tag, digest, tag_age if tag_age is not None else age)
        return digest

    def tag(self, name: str, digest: str, age: timedelta) -> None:
        self.tags = [t for t in self.tags if t.name != name]
        self.tags.append(TagRow(name, digest, NOW - age))

    def build(self) -> RepositoryGraph:
        return RepositoryGraph(self.repo, tuple(sorted(self.tags, key=lambda t: t.name)),
                               dict(self.manifests), dict(self.blobs),
                               frozenset(self.children_anywhere))
