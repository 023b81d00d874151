"""Matching an image's packages against the advisory database."""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

from wharf.metadata.scan_store import AdvisoryRow, ScanStore
from wharf.scanning import severity as sev
from wharf.scanning.model import APK, DEB, LANGUAGE_ECOSYSTEMS, RPM, OsRelease, Package
from wharf.scanning.osv import package_key
from wharf.scanning.versions import VersionError, affected_by, compare

_RPM_DISTROS = {"rocky": "Rocky Linux", "almalinux": "AlmaLinux"}


def os_ecosystem(os_release: OsRelease | None, kind: str) -> str | None:
    """The OSV ecosystem an OS package is filed under, from /etc/os-release."""
    if os_release is None:
        return None
    distro, version = os_release.id.lower(), os_release.version_id
    if kind == DEB and distro == "debian" and version:
        return f"Debian:{version.split('.', 1)[0]}"
    if kind == DEB and distro == "ubuntu" and version:
        return f"Ubuntu:{version}"
    if kind == APK and distro == "alpine" and version:
        return "Alpine:v" + ".".join(version.split(".")[:2])
    if kind == RPM and distro in _RPM_DISTROS and version:
        return f"{_RPM_DISTROS[distro]}:{version.split('.', 1)[0]}"
    return None


def ecosystem_of(package: Package, os_release: OsRelease | None) -> str | None:
    return LANGUAGE_ECOSYSTEMS.get(package.kind) or os_ecosystem(os_release, package.kind)


def _lookup_names(package: Package, ecosystem: str) -> set[str]:
    # Distributions file advisories under the source package (glibc, not libc6).
    names = {package_key(ecosystem, package.name)}
    if package.source_name:
        names.add(package.source_name)
    return names


def _compared_version(package: Package) -> str:
    # Debian fixes name the source version; a binNMU (+b1) binary is the same source.
    return package.source_version or package.version


def _fixed_in(ecosystem: str, installed: str, fixed: list[str]) -> str | None:
    later = []
    for version in fixed:
        try:
            if compare(ecosystem, version, installed) > 0:
                later.append(version)
        except VersionError:
            continue
    if not later:
        return None
    best = later[0]
    for version in later[1:]:
        if compare(ecosystem, version, best) < 0:
            best = version
    return best


def _finding(package: Package, ecosystem: str, advisory: AdvisoryRow,
             fixed: str | None) -> dict[str, Any]:
    display = advisory.id if advisory.id.startswith("CVE-") else next(
        (a for a in advisory.aliases if a.startswith("CVE-")), advisory.id)
    return {
        "package": package.name, "kind": package.kind, "version": package.version,
        "ecosystem": ecosystem, "origin": package.origin,
        "source_package": package.source_name or None,
        "advisory": advisory.id, "id": display, "aliases": advisory.aliases,
        "severity": advisory.severity, "score": advisory.score, "fixed": fixed,
        "summary": advisory.summary,
    }


# What one (ecosystem, lookup names, compared version) is affected by.
_Key = tuple[str, tuple[str, ...], str]
_Hits = list[tuple[AdvisoryRow, str | None]]


class Matcher:
    """Matches packages against the advisory database, remembering per process what each
    (ecosystem, name, version) is affected by for the current database generation.

    Images share their base layers, so most packages of a newly pushed manifest were
    matched before: the check at PUT then costs a dictionary lookup per package instead of
    a query and a version comparison per advisory range.
    """

    def __init__(self, store: ScanStore, max_entries: int = 200_000) -> None:
        self.store = store
        self.max_entries = max_entries
        self._generation: object = None
        self._cache: dict[_Key, _Hits] = {}
        self._lock = threading.Lock()

    def _keys(self, packages: list[Package], os_release: OsRelease | None
              ) -> list[tuple[Package, _Key]]:
        keyed = []
        for package in packages:
            ecosystem = ecosystem_of(package, os_release)
            if ecosystem is None:
                continue
            names = tuple(sorted(_lookup_names(package, ecosystem)))
            keyed.append((package, (ecosystem, names, _compared_version(package))))
        return keyed

    def _compute(self, keys: set[_Key]) -> dict[_Key, _Hits]:
        by_pair: dict[tuple[str, str], list[_Key]] = {}
        for key in keys:
            for name in key[1]:
                by_pair.setdefault((key[0], name), []).append(key)
        hits: dict[_Key, _Hits] = {key: [] for key in keys}
        seen: set[tuple[_Key, str]] = set()
        for row in self.store.affected_for(set(by_pair)):
            for key in by_pair.get((row.ecosystem, row.name), []):
                if (key, row.advisory.id) in seen:
                    continue
                ecosystem, _, version = key
                if affected_by(ecosystem, version, row.data.get("ranges", []),
                               row.data.get("versions", [])):
                    seen.add((key, row.advisory.id))
                    hits[key].append((row.advisory, _fixed_in(ecosystem, version,
                                                               list(row.data.get("fixed", [])))))
        return hits

    def match(self, packages: list[Package], os_release: OsRelease | None
              ) -> list[dict[str, Any]]:
        """Findings, most severe first; one per (package, advisory)."""
        generation = self.store.vulndb_generation()
        keyed = self._keys(packages, os_release)
        with self._lock:
            if generation != self._generation or len(self._cache) > self.max_entries:
                self._cache, self._generation = {}, generation
            missing = {key for _, key in keyed if key not in self._cache}
        computed = self._compute(missing) if missing else {}
        with self._lock:
            if self._generation == generation:
                self._cache.update(computed)
        findings: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        for package, key in keyed:
            found = computed.get(key)
            if found is None:
                found = self._cache.get(key, [])
            for advisory, fixed in found:
                ident = (package.name, package.version, package.origin, advisory.id)
                if ident not in findings:
                    findings[ident] = _finding(package, key[0], advisory, fixed)
        return sorted(findings.values(), key=lambda f: (-sev.rank(f["severity"]),
                                                        -(f["score"] or 0), f["id"],
                                                        f["package"]))


def counts(findings: list[dict[str, Any]]) -> dict[str, int]:
    tally = Counter(f["severity"] for f in findings)
    return {level: tally.get(level, 0) for level in reversed(sev.LEVELS) if level != "NONE"}


def dumps(findings: list[dict[str, Any]]) -> str:
    return json.dumps(findings, separators=(",", ":"))
