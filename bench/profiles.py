"""Sizes of each scenario for the full, quick and smoke runs."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

MiB = 1024 * 1024


@dataclass(frozen=True)
class Profile:
    name: str
    large_blob_count: int
    large_blob_size: int
    chunk_size: int
    pull_rounds: int
    small_images: int
    small_concurrency: int
    small_repos: int
    wrk_seconds: int
    wrk_connections: int
    tags: int
    repos: int
    page_size: int
    listing_repeats: int
    rss_push_size: int
    limit_bytes: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


FULL = Profile(
    name="full",
    large_blob_count=4,
    large_blob_size=256 * MiB,
    chunk_size=16 * MiB,
    pull_rounds=2,
    small_images=2000,
    small_concurrency=32,
    small_repos=16,
    wrk_seconds=10,
    wrk_connections=64,
    tags=10_000,
    repos=2_000,
    page_size=1000,
    listing_repeats=5,
    rss_push_size=2048 * MiB,
    limit_bytes=1024 * MiB,
)

QUICK = Profile(
    name="quick",
    large_blob_count=4,
    large_blob_size=64 * MiB,
    chunk_size=16 * MiB,
    pull_rounds=2,
    small_images=200,
    small_concurrency=32,
    small_repos=8,
    wrk_seconds=3,
    wrk_connections=64,
    tags=1_000,
    repos=300,
    page_size=1000,
    listing_repeats=5,
    rss_push_size=512 * MiB,
    limit_bytes=256 * MiB,
)

SMOKE = Profile(
    name="smoke",
    large_blob_count=2,
    large_blob_size=4 * MiB,
    chunk_size=1 * MiB,
    pull_rounds=1,
    small_images=16,
    small_concurrency=8,
    small_repos=2,
    wrk_seconds=1,
    wrk_connections=8,
    tags=30,
    repos=12,
    page_size=10,
    listing_repeats=1,
    rss_push_size=8 * MiB,
    limit_bytes=8 * MiB,
)
