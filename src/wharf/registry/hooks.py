"""Extension points other capabilities attach to push and pull (wired in app.py).

The registry knows only this protocol, not who implements it: scanning checks manifests
at PUT and GET and indexes layers after their blob is committed.
"""

from __future__ import annotations

from typing import Protocol

from wharf.metadata.store import InTransaction
from wharf.oci.digest import Digest
from wharf.oci.manifest import Manifest


class RegistryHooks(Protocol):
    def blob_committed(self, digest: Digest, size: int) -> None:
        """After a blob's bytes and row are committed; must not raise."""

    def check_push(self, repository: str, manifest: Manifest) -> InTransaction | None:
        """Before a manifest is stored; raise RegistryError to refuse it. What it returns
        is written in the manifest's own transaction (stored with it, or not at all)."""

    def check_pull(self, repository: str, digest: str) -> None:
        """Before a manifest is served; raise RegistryError to refuse it."""
