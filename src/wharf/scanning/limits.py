"""Bounds on the work one layer may cost, and the failure raised when a layer exceeds them.

A pushed layer is hostile input: it may be a decompression bomb, hold millions of entries,
a multi-gigabyte "package database", or be truncated. Every loop in the indexer charges a
`Budget`; exceeding it raises `ScanFailed`, which marks the layer's scan failed with the
reason and never reaches the client as a server error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


class ScanFailed(Exception):  # noqa: N818 - reads as a state, like StopIteration
    """The layer could not be indexed within bounds; `reason` is shown in the report."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ScanLimits:
    max_entries: int = 500_000
    max_decompressed_bytes: int = 16 << 30
    # Past `ratio_grace_bytes`, output may not exceed input by more than this factor: real
    # layers compress 2-10x, a bomb thousands of times.
    max_compression_ratio: int = 200
    ratio_grace_bytes: int = 64 << 20
    # Largest single file read into memory (a package database, metadata file or jar).
    max_file_bytes: int = 64 << 20
    # Largest tar header extension (PAX records, GNU long names).
    max_header_bytes: int = 1 << 20
    max_path_length: int = 4096
    max_path_depth: int = 128
    # Archives inside archives (a jar in a jar in a war) deeper than this fail the scan.
    max_nesting: int = 3
    max_seconds: float = 120.0
    # How much of a Go binary's writable segment is searched for the build-info blob.
    go_window_bytes: int = 1 << 20


class Budget:
    """The running account of one layer's indexing against its limits."""

    def __init__(self, limits: ScanLimits) -> None:
        self.limits = limits
        self.entries = 0
        self.deadline = time.monotonic() + limits.max_seconds

    def entry(self) -> None:
        self.entries += 1
        if self.entries > self.limits.max_entries:
            raise ScanFailed(f"more than {self.limits.max_entries} archive entries")
        if self.entries % 256 == 0:
            self.check_time()

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise ScanFailed(f"indexing took longer than {self.limits.max_seconds:g} s")
