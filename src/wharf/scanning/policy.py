"""Block-on-severity policy and the allowlist: the verdict on one image for one project.

What a failed scan means for a blocking project: the image cannot be shown to be free of
findings at the threshold, so it is refused ("could not be scanned: <reason>") unless the
project's policy sets `allow_unscanned`. Projects without a threshold accept everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wharf.metadata.scan_store import AllowlistRow, PolicyRow
from wharf.scanning import severity as sev

SCAN_OK, SCAN_FAILED, SCAN_UNSUPPORTED = "ok", "failed", "unsupported"


@dataclass(frozen=True, slots=True)
class Verdict:
    compliant: bool
    # What is wrong, to follow "push rejected: image " / "pull refused: image ".
    blocking: str | None
    critical_open: int


def active_ids(entries: list[AllowlistRow], at: datetime) -> set[str]:
    return {e.cve.upper() for e in entries if e.expires_at > at}


def is_allowlisted(finding: dict[str, Any], allowed: set[str]) -> bool:
    ids = {finding["advisory"], finding["id"], *finding.get("aliases", [])}
    return any(i.upper() in allowed for i in ids)


def evaluate(report: dict[str, Any], policy: PolicyRow | None, allowed: set[str]) -> Verdict:
    findings = report.get("findings", [])
    open_findings = [f for f in findings if not is_allowlisted(f, allowed)]
    critical = sum(1 for f in open_findings if f["severity"] == "CRITICAL")
    threshold = policy.block_on if policy else None
    if threshold is None:
        return Verdict(True, None, critical)
    status = report.get("status")
    if status == SCAN_FAILED and not policy.allow_unscanned:  # type: ignore[union-attr]
        return Verdict(False, f"could not be scanned: {report.get('reason')}", critical)
    for finding in open_findings:  # most severe first, as the report is sorted
        if sev.at_least(finding["severity"], threshold):
            return Verdict(False, f"contains {finding['severity']} vulnerability "
                                  f"{finding['id']}", critical)
    return Verdict(True, None, critical)
