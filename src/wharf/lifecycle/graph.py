"""What holds what inside one repository: the rules retention, GC and reports share.

A manifest linked to a repository is *held* by
- a tag naming it;
- an index linked to the repository that names it as a child;
- its subject, when that is linked to the repository (OCI 1.1 referrers: signatures,
  SBOMs, attestations follow their subject);
- a cosign "attached" tag (`sha256-<hex>.sig`, `.att`, `.sbom`), which ties the manifest
  it names to the subject `sha256:<hex>` the same way.
Children, referrers and attached artefacts are *dependents*: they live exactly as long as
what holds them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from wharf.metadata.lifecycle_store import RepositoryGraph, TagRow

_ATTACHED = re.compile(r"^(sha256|sha512)-([0-9a-f]{64}|[0-9a-f]{128})\.(sig|att|sbom)$")


def attached_subject(tag: str) -> str | None:
    """The subject digest a cosign attached tag names (`sha256-<hex>.sig` ->
    `sha256:<hex>`), or None for an ordinary tag."""
    match = _ATTACHED.match(tag)
    return None if match is None else f"{match[1]}:{match[2]}"


@dataclass(frozen=True, slots=True)
class Holds:
    """Reverse edges of a repository graph: who holds each manifest."""

    parents: dict[str, set[str]]
    referrers: dict[str, set[str]]
    # subject digest -> manifests attached to it by a cosign tag
    attached: dict[str, set[str]]

    @classmethod
    def of(cls, graph: RepositoryGraph, tags: Iterable[TagRow] | None = None) -> Holds:
        parents: dict[str, set[str]] = {}
        referrers: dict[str, set[str]] = {}
        attached: dict[str, set[str]] = {}
        for node in graph.manifests.values():
            for child in node.children:
                parents.setdefault(child, set()).add(node.digest)
            if node.subject is not None:
                referrers.setdefault(node.subject, set()).add(node.digest)
        for tag in graph.tags if tags is None else tags:
            subject = attached_subject(tag.name)
            if subject is not None and tag.digest in graph.manifests:
                attached.setdefault(subject, set()).add(tag.digest)
        return cls(parents, referrers, attached)

    def dependents_of(self, digest: str, graph: RepositoryGraph) -> set[str]:
        """Manifests `digest` holds: its children, referrers and attached artefacts."""
        node = graph.manifests.get(digest)
        found = set(node.children) if node is not None else set()
        found |= self.referrers.get(digest, set()) | self.attached.get(digest, set())
        return {d for d in found if d in graph.manifests}

    def closure(self, roots: Iterable[str], graph: RepositoryGraph) -> set[str]:
        """`roots` and everything they hold, transitively."""
        kept: set[str] = set()
        todo = [d for d in roots if d in graph.manifests]
        while todo:
            digest = todo.pop()
            if digest in kept:
                continue
            kept.add(digest)
            todo.extend(self.dependents_of(digest, graph) - kept)
        return kept

    def is_dependent(self, digest: str, graph: RepositoryGraph) -> bool:
        """Whether something else in the repository could hold `digest`: a linked parent
        index, a linked subject, or a linked subject by attached tag."""
        if self.parents.get(digest, set()) & graph.manifests.keys():
            return True
        node = graph.manifests.get(digest)
        if node is not None and node.subject is not None and node.subject in graph.manifests:
            return True
        return any(digest in targets and subject in graph.manifests
                   for subject, targets in self.attached.items())


def plain_tags(tags: Iterable[TagRow]) -> list[TagRow]:
    return [t for t in tags if attached_subject(t.name) is None]


def untagged(graph: RepositoryGraph) -> set[str]:
    """Manifests no tag holds, directly or through what they depend on: what `image list
    --untagged` shows and `delete-untagged-older-than` sweeps."""
    holds = Holds.of(graph)
    tagged = {t.digest for t in plain_tags(graph.tags)}
    return set(graph.manifests) - holds.closure(tagged, graph)


def image_size(graph: RepositoryGraph, digest: str) -> int:
    """Bytes a pull of `digest` transfers: the manifest, its blobs and, for an index, its
    children's, each distinct digest counted once."""
    seen: set[str] = set()
    total = 0
    todo = [digest]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        node = graph.manifests.get(current)
        if node is None:
            continue
        total += node.size
        for blob in node.blobs:
            if blob not in seen:
                seen.add(blob)
                link = graph.blobs.get(blob)
                total += link.size if link is not None else 0
        todo.extend(node.children)
    return total
