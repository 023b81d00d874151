"""The per-repository GC planner: only what nothing holds, only past the grace."""

from __future__ import annotations

from datetime import timedelta

from tests.unit.lifecycle.graphs import NOW, GraphBuilder, dig
from wharf.lifecycle.gc import plan_repository_gc

DAY = timedelta(days=1)
CUTOFF = NOW - DAY


def test_untagged_standalone_manifests_are_retentions_business() -> None:
    g = GraphBuilder()
    g.image("by-digest", 30 * DAY, layers=("l1",))
    plan = plan_repository_gc(g.build(), CUTOFF)
    assert plan.manifests == []
    assert plan.blobs == []


def test_referrer_follows_its_subject() -> None:
    g = GraphBuilder()
    g.image("sbom-of-gone", 30 * DAY, layers=("s1",), subject=dig("gone"))
    g.image("young-sbom-of-gone", DAY / 2, layers=("s2",), subject=dig("gone"))
    g.image("app", 30 * DAY, layers=("l1",), tags=("v1",))
    g.image("sbom-of-app", 30 * DAY, layers=("s3",), subject=dig("app"))
    plan = plan_repository_gc(g.build(), CUTOFF)
    assert plan.manifests == [dig("sbom-of-gone")]
    assert set(plan.blobs) == {dig("s1"), dig("sbom-of-gone-config")}


def test_children_of_a_deleted_index_go_transitively() -> None:
    g = GraphBuilder()
    leaf = g.image("leaf", 30 * DAY, layers=("l1",))
    g.image("middle", 30 * DAY, children=(leaf,))
    graph = g.build()
    # "top" (gone) named middle as a child; nothing here holds middle any more.
    graph = type(graph)(graph.repository, graph.tags, graph.manifests, graph.blobs,
                        graph.children_anywhere | {dig("middle")})
    plan = plan_repository_gc(graph, CUTOFF)
    assert plan.manifests == [dig("middle"), leaf]
    assert dig("l1") in plan.blobs


def test_tagged_index_holds_its_children() -> None:
    g = GraphBuilder()
    leaf = g.image("leaf", 30 * DAY, layers=("l1",))
    g.image("index", 30 * DAY, children=(leaf,), tags=("v1",))
    assert plan_repository_gc(g.build(), CUTOFF).manifests == []


def test_blob_links_need_the_grace_period() -> None:
    g = GraphBuilder()
    g.blob("old-loose", age=30 * DAY)
    g.blob("fresh-loose", age=DAY / 4)  # a push in progress: its manifest is coming
    g.image("app", 30 * DAY, layers=("used",), tags=("v1",))
    plan = plan_repository_gc(g.build(), CUTOFF)
    assert plan.blobs == [dig("old-loose")]


def test_attached_signature_of_a_gone_subject() -> None:
    g = GraphBuilder()
    sig = g.image("sig", 30 * DAY, layers=("sigblob",))
    g.tag(dig("gone").replace(":", "-") + ".sig", sig, 30 * DAY)
    plan = plan_repository_gc(g.build(), CUTOFF)
    assert [t[0] for t in plan.tags] == [dig("gone").replace(":", "-") + ".sig"]
    assert plan.manifests == [sig]
