"""Retention rules and the one planner both the dry run and the real run use.

Rules (each optional; a rule that is not set removes nothing):
- `keep_tagged`: tags matching any of these globs (`release-*,main`) are kept forever and
  are not counted by `keep_last`.
- `keep_last N`: per repository, among the remaining ordinary tags, the N most recently
  pushed (the time the tag was last pointed at a manifest; ties by name) are kept, the
  others are removed. Cosign attached tags (`sha256-<hex>.sig`) are never counted: they
  follow their subject.
- `delete_untagged_older_than D`: untagged manifests (see `graph.untagged`: no tag holds
  them, not even through a tagged index or subject) pushed more than D ago are unlinked.

A manifest whose tags this run removes is unlinked by the same run, together with its
dependents (children, referrers, attached signatures) that nothing kept still holds.
Retention only untags and unlinks; garbage collection reclaims the bytes afterwards.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from wharf.lifecycle.graph import Holds, attached_subject, plain_tags
from wharf.metadata.lifecycle_store import RepositoryGraph


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    keep_last: int | None = None
    keep_tagged: tuple[str, ...] = ()
    delete_untagged_older_than: timedelta | None = None

    @property
    def empty(self) -> bool:
        return (self.keep_last is None and not self.keep_tagged
                and self.delete_untagged_older_than is None)

    def protects(self, tag: str) -> bool:
        return any(fnmatch.fnmatchcase(tag, pattern) for pattern in self.keep_tagged)


def parse_globs(text: str | None) -> tuple[str, ...]:
    """`'release-*, main'` -> `('release-*', 'main')`."""
    if not text:
        return ()
    return tuple(p.strip() for p in text.split(",") if p.strip())


@dataclass(frozen=True, slots=True)
class RepositoryPlan:
    repository: str
    repository_id: int
    # (tag, digest it names)
    tags: list[tuple[str, str]] = field(default_factory=list)
    manifests: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.tags and not self.manifests


def plan_repository(graph: RepositoryGraph, policy: RetentionPolicy,
                    moment: datetime) -> RepositoryPlan:
    """The tags and manifests the policy removes from one repository at `moment`."""
    repo = graph.repository
    plan = RepositoryPlan(repo.name, repo.id)
    if policy.empty:
        return plan
    ordinary = plain_tags(graph.tags)
    counted = sorted((t for t in ordinary if not policy.protects(t.name)),
                     key=lambda t: (t.updated_at, t.name), reverse=True)
    removed_tags = counted[policy.keep_last:] if policy.keep_last is not None else []
    removed_names = {t.name for t in removed_tags}
    roots = {t.digest for t in ordinary if t.name not in removed_names}

    holds = Holds.of(graph)
    ever_tagged = {t.digest for t in graph.tags}
    cutoff = (moment - policy.delete_untagged_older_than
              if policy.delete_untagged_older_than is not None else None)
    for node in graph.manifests.values():
        # Untagged and held by nothing: kept unless the untagged rule sweeps it.
        if node.digest in ever_tagged or holds.is_dependent(node.digest, graph):
            continue
        if cutoff is None or node.pushed_at >= cutoff:
            roots.add(node.digest)
    kept = holds.closure(roots, graph)

    for tag in graph.tags:
        subject = attached_subject(tag.name)
        if tag.name in removed_names:
            plan.tags.append((tag.name, tag.digest))
        elif subject is not None and tag.digest in graph.manifests and (
                subject not in kept or tag.digest not in kept):
            # An attached tag follows its subject (a signature of a removed image goes).
            plan.tags.append((tag.name, tag.digest))
    plan.tags.sort()
    plan.manifests.extend(sorted(set(graph.manifests) - kept))
    return plan
