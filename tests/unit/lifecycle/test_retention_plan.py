"""The retention planner on a realistic tag history."""

from __future__ import annotations

from datetime import timedelta

from tests.unit.lifecycle.graphs import NOW, GraphBuilder, dig
from wharf.lifecycle.graph import untagged
from wharf.lifecycle.retention import RetentionPolicy, parse_globs, plan_repository

DAY = timedelta(days=1)
POLICY = RetentionPolicy(keep_last=30, keep_tagged=("release-*", "main"),
                         delete_untagged_older_than=timedelta(days=7))


def sig_tag(digest: str) -> str:
    return digest.replace(":", "-") + ".sig"


def history() -> GraphBuilder:
    """A web app: daily CI builds, a moving `latest` and `main`, release tags (one a
    multi-arch index), cosign signatures, an SBOM referrer, and images left untagged when
    `latest` moved on."""
    g = GraphBuilder()
    for i in range(1, 41):  # build-101 (40 days old) .. build-140 (1 day old)
        g.image(f"build-{100 + i}", (41 - i) * DAY, layers=("base", f"app-{i}"),
                tags=(f"build-{100 + i}",))
    g.tag("latest", dig("build-140"), DAY / 2)
    g.tag("main", dig("build-139"), 2 * DAY)
    g.image("release-1.0", 200 * DAY, layers=("base", "rel-1.0"), tags=("release-1.0",))
    g.tag("release-1.3", dig("build-105"), 30 * DAY)  # a release promoted from a build
    amd = g.image("rel-2.0-amd64", 20 * DAY, layers=("base", "r2a"))
    arm = g.image("rel-2.0-arm64", 20 * DAY, layers=("base", "r2b"))
    g.image("release-2.0", 20 * DAY, children=(amd, arm), tags=("release-2.0",))
    sig_keep = g.image("sig-release-1.0", 199 * DAY, layers=("sig1",))
    g.tag(sig_tag(dig("release-1.0")), sig_keep, 199 * DAY)
    sig_gone = g.image("sig-build-101", 40 * DAY, layers=("sig2",))
    g.tag(sig_tag(dig("build-101")), sig_gone, 40 * DAY)
    g.image("sbom-build-102", 39 * DAY, layers=("sbom1",), subject=dig("build-102"))
    g.image("sbom-release-1.0", 150 * DAY, layers=("sbom2",), subject=dig("release-1.0"))
    for n in range(3):
        g.image(f"old-untagged-{n}", (10 + n) * DAY, layers=("base",))
    g.image("young-untagged", 2 * DAY, layers=("base",))
    return g


def test_realistic_history() -> None:
    plan = plan_repository(history().build(), POLICY, NOW)
    removed_builds = [f"build-{n}" for n in range(101, 112)]  # 11 oldest of 41 counted
    expected_tags = sorted([(t, dig(t)) for t in removed_builds]
                           + [(sig_tag(dig("build-101")), dig("sig-build-101"))])
    assert plan.tags == expected_tags
    # build-105 is also release-1.3: its build tag goes, the image stays.
    expected_manifests = {dig(t) for t in removed_builds if t != "build-105"}
    expected_manifests |= {dig("sig-build-101"), dig("sbom-build-102")}
    expected_manifests |= {dig(f"old-untagged-{n}") for n in range(3)}
    assert set(plan.manifests) == expected_manifests
    assert plan.manifests == sorted(plan.manifests)


def test_kept_things_stay() -> None:
    plan = plan_repository(history().build(), POLICY, NOW)
    kept = {dig(x) for x in ("release-1.0", "release-2.0", "rel-2.0-amd64", "rel-2.0-arm64",
                             "sig-release-1.0", "sbom-release-1.0", "young-untagged",
                             "build-105", "build-139", "build-140", "build-112")}
    assert not kept & set(plan.manifests)
    assert {t for t, _ in plan.tags}.isdisjoint({"latest", "main", "release-1.0",
                                                   "release-1.3", "build-112"})


def test_no_policy_removes_nothing() -> None:
    plan = plan_repository(history().build(), RetentionPolicy(), NOW)
    assert plan.empty


def test_untagged_rule_alone_keeps_every_tag() -> None:
    policy = RetentionPolicy(delete_untagged_older_than=timedelta(days=7))
    plan = plan_repository(history().build(), policy, NOW)
    assert plan.tags == []
    # Index children and referrers of kept images are not "untagged".
    assert set(plan.manifests) == {dig(f"old-untagged-{n}") for n in range(3)}


def test_untagged_older_than_zero_sweeps_every_untagged() -> None:
    policy = RetentionPolicy(delete_untagged_older_than=timedelta(0))
    plan = plan_repository(history().build(), policy, NOW)
    assert dig("young-untagged") in plan.manifests


def test_keep_last_zero_removes_every_counted_tag() -> None:
    policy = RetentionPolicy(keep_last=0, keep_tagged=("release-*",))
    plan = plan_repository(history().build(), policy, NOW)
    names = {t for t, _ in plan.tags}
    assert {"latest", "main", "build-140"} <= names
    assert not {n for n in names if n.startswith("release-")}


def test_keep_last_ties_are_broken_by_name() -> None:
    g = GraphBuilder()
    for name in ("a", "b", "c"):
        g.image(name, DAY, tags=(name,))
    plan = plan_repository(g.build(), RetentionPolicy(keep_last=1), NOW)
    assert [t for t, _ in plan.tags] == ["a", "b"]


def test_untagged_index_takes_its_children() -> None:
    g = GraphBuilder()
    amd = g.image("amd", 30 * DAY)
    arm = g.image("arm", 30 * DAY)
    g.image("index", 30 * DAY, children=(amd, arm))
    graph = g.build()
    assert untagged(graph) == {dig("index"), amd, arm}
    plan = plan_repository(graph, RetentionPolicy(delete_untagged_older_than=7 * DAY), NOW)
    assert set(plan.manifests) == {dig("index"), amd, arm}


def test_parse_globs() -> None:
    assert parse_globs(" release-*, main ,,") == ("release-*", "main")
    assert parse_globs(None) == ()
