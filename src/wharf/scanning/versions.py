"""Ecosystem-correct version comparison and OSV range evaluation (univers does the parsing).

OSV range semantics (ossf.github.io/osv-schema, "Evaluation"): events sorted by version;
`introduced` opens an affected interval ("0" is the beginning of time), `fixed` closes it
exclusively, `last_affected` inclusively. `versions` lists affected versions explicitly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from univers import versions as uv

_FAMILIES: dict[str, Callable[[str], Any]] = {
    "Debian": uv.DebianVersion,
    "Ubuntu": uv.DebianVersion,
    "Alpine": uv.AlpineLinuxVersion,
    "Rocky Linux": uv.RpmVersion,
    "AlmaLinux": uv.RpmVersion,
    "Red Hat": uv.RpmVersion,
    "openSUSE": uv.RpmVersion,
    "SUSE": uv.RpmVersion,
    "Mariner": uv.RpmVersion,
    "PyPI": uv.PypiVersion,
    "npm": uv.SemverVersion,
    "Go": uv.SemverVersion,
    "Maven": uv.MavenVersion,
}


class VersionError(ValueError):
    pass


def family(ecosystem: str) -> str:
    """`Debian:12` -> `Debian`."""
    return ecosystem.split(":", 1)[0]


def supported(ecosystem: str) -> bool:
    return family(ecosystem) in _FAMILIES


@lru_cache(maxsize=65536)
def parse(ecosystem: str, text: str) -> Any:
    fam = family(ecosystem)
    try:
        cls = _FAMILIES[fam]
    except KeyError as exc:
        raise VersionError(f"no version scheme for ecosystem {ecosystem!r}") from exc
    if fam == "Go":
        text = text.removeprefix("v")  # module versions carry a "v"; OSV's do not
    try:
        return cls(text)
    except Exception as exc:  # univers raises assorted types for bad input
        raise VersionError(f"invalid {fam} version {text!r}") from exc


def _lt(a: Any, b: Any) -> bool:
    # Only `<` is trusted: some univers classes derive `>=` and `==` from the raw
    # strings (attrs ordering), so "3.1.4-r10" >= "3.1.4-r5" would be False.
    return bool(a < b)


def _eq(a: Any, b: Any) -> bool:
    return not _lt(a, b) and not _lt(b, a)


def compare(ecosystem: str, left: str, right: str) -> int:
    a, b = parse(ecosystem, left), parse(ecosystem, right)
    return -1 if _lt(a, b) else (1 if _lt(b, a) else 0)


class _Key:
    """Sort key ordering events by version through `<` only (see `_lt`)."""

    def __init__(self, ecosystem: str, event: dict[str, str]) -> None:
        value = next(iter(event.values()))
        self.origin = "introduced" in event and value == "0"
        self.version = None if self.origin else parse(ecosystem, value)

    def __lt__(self, other: _Key) -> bool:
        if self.origin or other.origin:
            return self.origin and not other.origin
        return _lt(self.version, other.version)


def in_range(ecosystem: str, version: str, events: Sequence[dict[str, str]]) -> bool:
    """Whether `version` falls in one OSV ECOSYSTEM/SEMVER range."""
    installed = parse(ecosystem, version)
    ordered = sorted((e for e in events if len(e) == 1), key=lambda e: _Key(ecosystem, e))
    affected = False
    for event in ordered:
        kind, value = next(iter(event.items()))
        if kind == "introduced":
            if value == "0" or not _lt(installed, parse(ecosystem, value)):
                affected = True
        elif kind == "fixed":
            if not _lt(installed, parse(ecosystem, value)):
                affected = False
        elif kind == "last_affected" and _lt(parse(ecosystem, value), installed):
            affected = False
    return affected


def affected_by(ecosystem: str, version: str, ranges: Sequence[Sequence[dict[str, str]]],
                listed: Sequence[str]) -> bool:
    if version in listed:
        return True
    for events in ranges:
        try:
            if in_range(ecosystem, version, events):
                return True
        except VersionError:
            continue  # one unparseable bound must not hide the other ranges
    if listed:
        try:
            installed = parse(ecosystem, version)
            return any(_eq(parse(ecosystem, v), installed) for v in listed)
        except VersionError:
            return False
    return False
