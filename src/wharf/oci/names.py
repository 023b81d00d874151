"""Repository names and tags (OCI distribution-spec, "Pulling manifests")."""

from __future__ import annotations

import re

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_NAME = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
# Distribution's limit; long names also keep URLs and database keys bounded.
MAX_NAME_LENGTH = 255


def is_valid_name(name: str) -> bool:
    return len(name) <= MAX_NAME_LENGTH and _NAME.match(name) is not None


def is_valid_tag(tag: str) -> bool:
    return _TAG.match(tag) is not None


def project_of(name: str) -> str:
    """The project a repository belongs to: its first path component."""
    return name.split("/", 1)[0]
