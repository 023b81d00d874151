"""CVSS v3.0/3.1 base scores from vector strings (FIRST CVSS v3.1 specification, section 7).

v3.0 and v3.1 share the base metrics and weights; they differ only in rounding (3.1's
Roundup avoids floating-point artefacts), which is applied for both here, as NVD does.
"""

from __future__ import annotations

import math

_WEIGHTS: dict[str, dict[str, float]] = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
    "I": {"H": 0.56, "L": 0.22, "N": 0.0},
    "A": {"H": 0.56, "L": 0.22, "N": 0.0},
}
_PR = {"U": {"N": 0.85, "L": 0.62, "H": 0.27}, "C": {"N": 0.85, "L": 0.68, "H": 0.5}}
_REQUIRED = ("AV", "AC", "PR", "UI", "S", "C", "I", "A")


class CvssError(ValueError):
    pass


def roundup(value: float) -> float:
    """Smallest number, to one decimal, >= value (spec Appendix A, integer arithmetic)."""
    as_int = round(value * 100_000)
    if as_int % 10_000 == 0:
        return as_int / 100_000.0
    return (math.floor(as_int / 10_000) + 1) / 10.0


def base_score(vector: str) -> float:
    parts = vector.strip().split("/")
    if not parts[0].startswith("CVSS:3."):
        raise CvssError(f"not a CVSS v3 vector: {vector[:80]!r}")
    metrics: dict[str, str] = {}
    for part in parts[1:]:
        key, sep, value = part.partition(":")
        if not sep or key in metrics:
            raise CvssError(f"malformed CVSS metric {part!r}")
        metrics[key] = value
    missing = [m for m in _REQUIRED if m not in metrics]
    if missing:
        raise CvssError(f"CVSS vector lacks {', '.join(missing)}")
    try:
        scope_changed = {"U": False, "C": True}[metrics["S"]]
        iss = 1 - ((1 - _WEIGHTS["C"][metrics["C"]]) * (1 - _WEIGHTS["I"][metrics["I"]])
                   * (1 - _WEIGHTS["A"][metrics["A"]]))
        exploitability = (8.22 * _WEIGHTS["AV"][metrics["AV"]] * _WEIGHTS["AC"][metrics["AC"]]
                          * _PR[metrics["S"]][metrics["PR"]] * _WEIGHTS["UI"][metrics["UI"]])
    except KeyError as exc:
        raise CvssError(f"invalid CVSS metric value in {vector[:80]!r}") from exc
    impact = (7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 if scope_changed
              else 6.42 * iss)
    if impact <= 0:
        return 0.0
    if scope_changed:
        return roundup(min(1.08 * (impact + exploitability), 10))
    return roundup(min(impact + exploitability, 10))


def severity_of_score(score: float) -> str:
    """The qualitative rating (spec section 5)."""
    if score >= 9.0:
        return "CRITICAL"
    if score >= 7.0:
        return "HIGH"
    if score >= 4.0:
        return "MEDIUM"
    if score > 0.0:
        return "LOW"
    return "NONE"
