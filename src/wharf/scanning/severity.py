"""Severity levels, ordered, in the spelling the policy and reports use."""

from __future__ import annotations

LEVELS = ("UNKNOWN", "NONE", "LOW", "MEDIUM", "HIGH", "CRITICAL")
_RANK = {name: i for i, name in enumerate(LEVELS)}
# Advisory sources spell levels their own way (GitHub: MODERATE; Debian urgencies).
_ALIASES = {"MODERATE": "MEDIUM", "IMPORTANT": "HIGH"}


def normalize(text: str | None) -> str:
    if not text:
        return "UNKNOWN"
    level = text.strip().upper()
    level = _ALIASES.get(level, level)
    return level if level in _RANK else "UNKNOWN"


def rank(level: str) -> int:
    return _RANK.get(level, 0)


def at_least(level: str, threshold: str) -> bool:
    return rank(level) >= rank(threshold) and level != "UNKNOWN"


def parse_threshold(text: str) -> str:
    level = normalize(text)
    if level in ("UNKNOWN", "NONE"):
        raise ValueError(f"unknown severity {text!r}; use low, medium, high or critical")
    return level
