"""Storage reports and image listings, computed from repository graphs.

Terms: an *image* is a linked manifest nothing else in its repository holds (a tagged
image, an untagged one pushed by digest, an index; not an index's children or a subject's
referrers, which count towards what holds them). Its size is what a pull transfers.
*Logical* bytes add every image's size as if nothing were shared; *unique* bytes count
each stored blob and manifest once; *shared* bytes are the project's blobs that another
project's repositories also link (dedup across projects: deleting this project would not
free them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from wharf.lifecycle.graph import Holds, attached_subject, image_size, untagged
from wharf.metadata.lifecycle_store import RepositoryGraph

LARGEST = 10


@dataclass(frozen=True, slots=True)
class ImageRow:
    repository: str
    digest: str
    tags: list[str]
    media_type: str
    artifact_type: str | None
    size: int
    pushed_at: datetime
    untagged: bool


@dataclass(frozen=True, slots=True)
class RepositoryUsage:
    name: str
    images: int
    tags: int
    logical_bytes: int
    unique_bytes: int
    untagged_manifests: int
    untagged_bytes: int


@dataclass(frozen=True, slots=True)
class Layer:
    digest: str
    size: int
    repositories: int


@dataclass
class StorageReport:
    project: str
    logical_bytes: int = 0
    unique_bytes: int = 0
    shared_bytes: int = 0
    untagged_manifests: int = 0
    untagged_bytes: int = 0
    repositories: list[RepositoryUsage] = field(default_factory=list)
    largest_layers: list[Layer] = field(default_factory=list)


def images(graph: RepositoryGraph) -> list[ImageRow]:
    holds = Holds.of(graph)
    loose = untagged(graph)
    names: dict[str, list[str]] = {}
    for tag in graph.tags:
        if attached_subject(tag.name) is None:
            names.setdefault(tag.digest, []).append(tag.name)
    rows = []
    for node in graph.manifests.values():
        if node.digest not in names and holds.is_dependent(node.digest, graph):
            continue
        rows.append(ImageRow(graph.repository.name, node.digest, sorted(names.get(node.digest, [])),
                             node.media_type, node.artifact_type, image_size(graph, node.digest),
                             node.pushed_at, node.digest in loose))
    rows.sort(key=lambda r: (r.pushed_at, r.digest), reverse=True)
    return rows


def list_images(graphs: list[RepositoryGraph], *, untagged_only: bool = False,
                pushed_before: datetime | None = None) -> list[ImageRow]:
    rows = [row for graph in graphs for row in images(graph)]
    if untagged_only:
        rows = [r for r in rows if r.untagged]
    if pushed_before is not None:
        rows = [r for r in rows if r.pushed_at < pushed_before]
    return rows


def storage_report(project: str, graphs: list[RepositoryGraph],
                   shared: set[str]) -> StorageReport:
    """`shared`: the project's blob digests that other projects link too."""
    report = StorageReport(project)
    blob_sizes: dict[str, int] = {}
    manifest_sizes: dict[str, int] = {}
    blob_repos: dict[str, int] = {}
    for graph in graphs:
        rows = images(graph)
        loose = [r for r in rows if r.untagged]
        unique = (sum(b.size for b in graph.blobs.values())
                  + sum(m.size for m in graph.manifests.values()))
        usage = RepositoryUsage(graph.repository.name, len(rows), len(graph.tags),
                                sum(r.size for r in rows), unique, len(loose),
                                sum(r.size for r in loose))
        report.repositories.append(usage)
        report.logical_bytes += usage.logical_bytes
        report.untagged_manifests += usage.untagged_manifests
        report.untagged_bytes += usage.untagged_bytes
        for digest, link in graph.blobs.items():
            blob_sizes[digest] = link.size
            blob_repos[digest] = blob_repos.get(digest, 0) + 1
        for digest, node in graph.manifests.items():
            manifest_sizes[digest] = node.size
    report.unique_bytes = sum(blob_sizes.values()) + sum(manifest_sizes.values())
    report.shared_bytes = sum(size for d, size in blob_sizes.items() if d in shared)
    largest = sorted(blob_sizes.items(), key=lambda item: (-item[1], item[0]))[:LARGEST]
    report.largest_layers = [Layer(d, size, blob_repos[d]) for d, size in largest]
    return report
