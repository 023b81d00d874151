"""Version ranges per ecosystem, CVSS v3 base scores, OSV parsing and policy verdicts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from wharf.metadata.scan_store import AllowlistRow, PolicyRow
from wharf.scanning.cvss import CvssError, base_score, severity_of_score
from wharf.scanning.osv import parse_advisory
from wharf.scanning.policy import active_ids, evaluate
from wharf.scanning.versions import affected_by, compare, in_range

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "osv"


def fixed(introduced: str, fix: str) -> list[dict[str, str]]:
    return [{"introduced": introduced}, {"fixed": fix}]


@pytest.mark.parametrize(("ecosystem", "version", "events", "expected"), [
    # Debian: epochs, tildes sort before anything, +debNuM backports.
    ("Debian:12", "1:1.2.13.dfsg-1", fixed("0", "1:1.2.13.dfsg-1+deb12u1"), True),
    ("Debian:12", "2.36-9+deb12u14", fixed("0", "2.36-9+deb12u3"), False),
    ("Debian:12", "3.0.11-1~deb12u2", fixed("0", "3.0.11-1"), True),
    ("Debian:12", "2:1.0-1", fixed("0", "1:9.9-1"), False),
    # Alpine: -rN package revisions.
    ("Alpine:v3.19", "3.1.4-r1", fixed("0", "3.1.4-r5"), True),
    ("Alpine:v3.19", "3.1.4-r10", fixed("0", "3.1.4-r5"), False),
    # RPM: epoch:version-release.
    ("Rocky Linux:9", "1:3.0.7-24.el9", fixed("0", "1:3.0.7-27.el9"), True),
    ("Rocky Linux:9", "1:3.0.7-27.el9", fixed("0", "1:3.0.7-27.el9"), False),
    # PEP 440: pre-releases come before the release.
    ("PyPI", "2.20.0rc1", fixed("0", "2.20.0"), True),
    ("PyPI", "2.20.0", fixed("0", "2.20.0"), False),
    ("PyPI", "2.2", fixed("2.2.0", "2.2.4"), True),
    ("PyPI", "2.1.15", fixed("2.2.0", "2.2.4"), False),
    # semver for npm and Go (Go modules carry a "v").
    ("npm", "4.17.9", fixed("0", "4.17.12"), True),
    ("npm", "4.17.12", fixed("0", "4.17.12"), False),
    ("Go", "v0.7.0", fixed("0", "0.17.0"), True),
    ("Go", "v0.17.0", fixed("0", "0.17.0"), False),
    # Maven ordering: 2.9.10.1 < 2.9.10.8 (numeric, not lexical).
    ("Maven", "2.9.10.1", fixed("2.9.0", "2.9.10.8"), True),
])
def test_fixed_ranges(ecosystem: str, version: str, events: list[dict[str, str]],
                      expected: bool) -> None:
    assert in_range(ecosystem, version, events) is expected


def test_last_affected_is_inclusive_and_events_may_come_unsorted() -> None:
    events = [{"last_affected": "1.4.0"}, {"introduced": "1.2.0"}]
    assert in_range("npm", "1.4.0", events)
    assert not in_range("npm", "1.4.1", events)
    assert not in_range("npm", "1.1.9", events)


def test_multiple_intervals_in_one_range() -> None:
    events = [{"introduced": "1.0"}, {"fixed": "1.2"}, {"introduced": "2.0"}, {"fixed": "2.3"}]
    assert in_range("PyPI", "1.1", events)
    assert not in_range("PyPI", "1.5", events)
    assert in_range("PyPI", "2.2", events)


def test_explicit_versions_and_bad_bounds() -> None:
    assert affected_by("PyPI", "1.0.0", [], ["1.0", "2.0"])  # PEP 440: 1.0.0 == 1.0
    assert not affected_by("PyPI", "1.5", [], ["1.0", "2.0"])
    # One unparseable bound does not hide a good range.
    assert affected_by("PyPI", "1.0", [[{"introduced": "0"}, {"fixed": "not a version!"}],
                                       fixed("0", "2.0")], [])


def test_compare() -> None:
    assert compare("Debian:12", "1.0-1", "1.0-1+b1") < 0
    assert compare("Alpine:v3.19", "1.2-r0", "1.2-r0") == 0


@pytest.mark.parametrize(("vector", "score", "severity"), [
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, "CRITICAL"),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5, "HIGH"),
    ("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N", 7.5, "HIGH"),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1, "MEDIUM"),
    ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8, "HIGH"),
    ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H", 5.9, "MEDIUM"),
    ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9, "CRITICAL"),
    ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.6, "LOW"),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0, "NONE"),
])
def test_cvss_base_scores(vector: str, score: float, severity: str) -> None:
    assert base_score(vector) == score
    assert severity_of_score(score) == severity


@pytest.mark.parametrize("vector", ["CVSS:2.0/AV:N", "CVSS:3.1/AV:N/AC:L",
                                    "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                                    "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"])
def test_cvss_rejects_malformed_vectors(vector: str) -> None:
    with pytest.raises(CvssError):
        base_score(vector)


def test_fixture_advisories_parse() -> None:
    requests = parse_advisory((FIXTURES / "GHSA-x84v-xcm2-53pg.json").read_bytes())
    assert requests is not None
    assert requests.display_id == "CVE-2018-18074"
    assert (requests.severity, requests.score) == ("HIGH", 7.5)
    assert requests.affected[0].fixed == ["2.20.0"]
    dsa = parse_advisory((FIXTURES / "DSA-5514-1.json").read_bytes())
    assert dsa is not None
    assert dsa.aliases == ["CVE-2023-4911"]  # from "upstream"
    assert {a.ecosystem for a in dsa.affected} == {"Debian:11", "Debian:12"}
    unfixed = parse_advisory((FIXTURES / "DEBIAN-CVE-2010-4756.json").read_bytes())
    assert unfixed is not None
    assert unfixed.severity == "UNKNOWN"


def test_osv_edge_cases() -> None:
    base = {"id": "GHSA-test", "affected": [{"package": {"ecosystem": "PyPI", "name": "Django"},
                                             "versions": ["2.2"]}]}
    assert parse_advisory(json.dumps({**base, "withdrawn": "2024-01-01T00:00:00Z"})) is None
    moderate = parse_advisory(json.dumps({**base, "database_specific": {"severity": "MODERATE"}}))
    assert moderate is not None
    assert moderate.severity == "MEDIUM"
    assert moderate.affected[0].name == "django"  # PEP 503 normalised
    other = {"id": "X", "affected": [{"package": {"ecosystem": "crates.io", "name": "a"},
                                      "versions": ["1"]}]}
    assert parse_advisory(json.dumps(other)) is None  # no version scheme: not matchable


def _finding(severity: str, cve: str) -> dict[str, object]:
    return {"advisory": f"GHSA-{cve}", "id": cve, "aliases": [cve], "severity": severity,
            "score": None}


def test_policy_verdicts() -> None:
    report = {"status": "ok", "findings": [_finding("CRITICAL", "CVE-1"),
                                           _finding("HIGH", "CVE-2")]}
    block_critical = PolicyRow("acme", "CRITICAL", False, False)
    verdict = evaluate(report, block_critical, set())
    assert not verdict.compliant
    assert verdict.blocking == "contains CRITICAL vulnerability CVE-1"
    assert verdict.critical_open == 1
    assert evaluate(report, block_critical, {"CVE-1"}).compliant
    block_high = PolicyRow("acme", "HIGH", False, False)
    assert evaluate(report, block_high, {"CVE-1"}).blocking == \
        "contains HIGH vulnerability CVE-2"
    assert evaluate(report, None, set()).compliant
    failed = {"status": "failed", "reason": "layer 0: bomb", "findings": []}
    assert evaluate(failed, block_critical, set()).blocking == "could not be scanned: " \
                                                                "layer 0: bomb"
    assert evaluate(failed, PolicyRow("acme", "CRITICAL", False, True), set()).compliant


def test_expired_allowlist_entries_do_not_apply() -> None:
    at = datetime.now(UTC)
    rows = [AllowlistRow(1, "acme", "CVE-1", "r", at - timedelta(seconds=1), None, at),
            AllowlistRow(2, None, "cve-2", "r", at + timedelta(days=1), None, at)]
    assert active_ids(rows, at) == {"CVE-2"}
