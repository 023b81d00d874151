"""Reading OSV advisories (ossf osv-schema 1.x) into what matching needs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from wharf.scanning import severity as sev
from wharf.scanning.cvss import CvssError, base_score, severity_of_score
from wharf.scanning.extract.lang import normalize_pypi
from wharf.scanning.versions import supported


class AdvisoryError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Affected:
    ecosystem: str
    name: str
    ranges: list[list[dict[str, str]]]
    versions: list[str]
    fixed: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"ranges": self.ranges, "versions": self.versions, "fixed": self.fixed}


@dataclass(frozen=True, slots=True)
class Advisory:
    id: str
    aliases: list[str]
    summary: str
    severity: str
    score: float | None
    vector: str | None
    modified: str
    published: str
    affected: list[Affected] = field(default_factory=list)

    @property
    def display_id(self) -> str:
        """The CVE when there is one: that is what people search and allowlist."""
        if self.id.startswith("CVE-"):
            return self.id
        return next((a for a in self.aliases if a.startswith("CVE-")), self.id)


def ecosystem_key(ecosystem: str) -> str:
    """Ecosystems as matched: `Ubuntu:22.04:LTS` and `Ubuntu:22.04` are one release."""
    parts = ecosystem.split(":")
    return ":".join(parts[:2])


def package_key(ecosystem: str, name: str) -> str:
    return normalize_pypi(name) if ecosystem == "PyPI" else name


def _severity(doc: dict[str, Any]) -> tuple[str, float | None, str | None]:
    for entry in doc.get("severity") or []:
        if isinstance(entry, dict) and entry.get("type") == "CVSS_V3":
            vector = str(entry.get("score", ""))
            try:
                score = base_score(vector)
            except CvssError:
                continue
            return severity_of_score(score), score, vector
    candidates: list[Any] = [(doc.get("database_specific") or {}).get("severity")]
    for affected in doc.get("affected") or []:
        if isinstance(affected, dict):
            for key in ("ecosystem_specific", "database_specific"):
                block = affected.get(key)
                if isinstance(block, dict):
                    candidates.append(block.get("severity"))
    for candidate in candidates:
        if isinstance(candidate, str) and sev.normalize(candidate) != "UNKNOWN":
            return sev.normalize(candidate), None, None
    return "UNKNOWN", None, None


def _affected(entry: Any) -> Affected | None:
    if not isinstance(entry, dict):
        return None
    package = entry.get("package")
    if not isinstance(package, dict):
        return None
    ecosystem, name = package.get("ecosystem"), package.get("name")
    if not isinstance(ecosystem, str) or not isinstance(name, str):
        return None
    ranges: list[list[dict[str, str]]] = []
    fixed: list[str] = []
    for rng in entry.get("ranges") or []:
        if not isinstance(rng, dict) or rng.get("type") not in ("ECOSYSTEM", "SEMVER"):
            continue  # GIT ranges name commits, which an image does not carry
        events = [{str(k): str(v) for k, v in e.items()} for e in rng.get("events") or []
                  if isinstance(e, dict) and len(e) == 1]
        fixed += [e["fixed"] for e in events if "fixed" in e]
        if events:
            ranges.append(events)
    versions = [str(v) for v in entry.get("versions") or [] if isinstance(v, str)]
    if not ranges and not versions:
        return None
    key = ecosystem_key(ecosystem)
    return Affected(key, package_key(key, name), ranges, versions, fixed)


def parse_advisory(data: bytes | str) -> Advisory | None:
    """An advisory, or None when it is withdrawn or names nothing we can match."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise AdvisoryError(f"not JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("id"), str):
        raise AdvisoryError("not an OSV record (no id)")
    if doc.get("withdrawn"):
        return None
    affected = [a for a in (_affected(e) for e in doc.get("affected") or [])
                if a is not None and supported(a.ecosystem)]
    if not affected:
        return None
    # Debian and Alpine records carry their CVE under "upstream" rather than "aliases".
    aliases: list[str] = []
    for key in ("aliases", "upstream"):
        for alias in doc.get(key) or []:
            if isinstance(alias, str) and alias not in aliases and alias != doc["id"]:
                aliases.append(alias)
    level, score, vector = _severity(doc)
    summary = doc.get("summary") or str(doc.get("details") or "")[:200]
    return Advisory(doc["id"], aliases, str(summary), level, score, vector,
                    str(doc.get("modified") or ""), str(doc.get("published") or ""),
                    affected)
