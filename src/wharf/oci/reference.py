"""Image references as container runtimes read them: `[host[:port]/]path[:tag][@digest]`.

The first component is a registry host when it has a `.` or `:` or is `localhost`
(distribution/reference's rule); otherwise the image is on Docker Hub (`docker.io`, with
`library/` for one-component names), so `nginx` is never taken for a local repository.
"""

from __future__ import annotations

from dataclasses import dataclass

DOCKER_HUB = "docker.io"


@dataclass(frozen=True, slots=True)
class ImageReference:
    host: str
    repository: str
    tag: str | None
    digest: str | None

    def __str__(self) -> str:
        text = f"{self.host}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_image_reference(text: str) -> ImageReference:
    """Split a reference; ValueError when it is empty or malformed."""
    text = text.strip()
    if not text or any(c.isspace() for c in text):
        raise ValueError(f"invalid image reference {text[:200]!r}")
    rest, _, digest = text.partition("@")
    host = DOCKER_HUB
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        host, rest = first, remainder
    tag = None
    colon = rest.rfind(":")
    if colon > rest.rfind("/"):
        rest, tag = rest[:colon], rest[colon + 1:]
    if host in (DOCKER_HUB, "index.docker.io", "registry-1.docker.io"):
        host = DOCKER_HUB
        if "/" not in rest:
            rest = f"library/{rest}"
    if not rest or (tag is not None and not tag) or (digest == "" and "@" in text):
        raise ValueError(f"invalid image reference {text[:200]!r}")
    return ImageReference(host.lower(), rest, tag, digest or None)
