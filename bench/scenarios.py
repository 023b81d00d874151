"""The scenarios, each timed on its own against one running registry."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bench.client import CATALOG_SCOPE, RegistryClient, RegistryError, repo_scope
from bench.data import (
    OCI_MANIFEST,
    STREAM_CHUNK,
    SmallImage,
    SyntheticBlob,
    aiter_chunks,
    make_manifest,
    make_small_images,
    random_base,
)
from bench.loadgen import run_hey, run_wrk
from bench.profiles import Profile
from bench.servers import RegistryProcess, RssSampler, descendants, tree_rss_bytes

MiB = 1024 * 1024
T = TypeVar("T")

PROJECT = "bench"
LARGE_REPO = "bench/large"
RSS_REPO = "bench/rss"
TAGS_REPO = "bench/tags"


@dataclass
class Dataset:
    """Everything the scenarios send, generated (and hashed) before any timing."""

    monolithic: list[SyntheticBlob]
    chunked: list[SyntheticBlob]
    rss_blob: SyntheticBlob
    small: list[SmallImage]
    tag_image: SmallImage

    @classmethod
    def build(cls, profile: Profile) -> Dataset:
        base_size = max(2 * STREAM_CHUNK, min(profile.large_blob_size, 256 * MiB))
        base_size -= base_size % STREAM_CHUNK
        base = random_base(base_size, seed=1)
        n, size = profile.large_blob_count, profile.large_blob_size
        specs = [(size, f"mono-{i}") for i in range(n)]
        specs += [(size, f"chunk-{i}") for i in range(n)]
        specs.append((profile.rss_push_size, "rss"))
        # Hashing GiBs takes seconds; hashlib releases the GIL, so use both cores.
        with ThreadPoolExecutor(max_workers=2) as pool:
            blobs = list(pool.map(lambda spec: SyntheticBlob(base, *spec), specs))
        return cls(
            monolithic=blobs[:n],
            chunked=blobs[n : 2 * n],
            rss_blob=blobs[-1],
            small=make_small_images(profile.small_images, profile.small_repos, "small"),
            tag_image=make_small_images(1, 1, "tags", seed=3)[0],
        )


@dataclass
class Context:
    server: RegistryProcess
    client: RegistryClient
    profile: Profile
    data: Dataset
    done: set[str] = field(default_factory=set)

    def require(self, scenario: str) -> None:
        if scenario not in self.done:
            raise RegistryError(f"needs scenario {scenario!r}, which did not complete")


async def bounded(concurrency: int, items: Iterable[T],
                  work: Callable[[T], Awaitable[None]]) -> None:
    """Run work(item) for every item with at most `concurrency` in flight; first error wins."""
    queue: asyncio.Queue[T] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)

    async def worker() -> None:
        while True:
            try:
                item = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await work(item)

    async with asyncio.TaskGroup() as tg:
        for _ in range(concurrency):
            tg.create_task(worker())


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100)."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


async def push_image(client: RegistryClient, image: SmallImage) -> float:
    for blob in image.blobs:
        await client.push_small_blob(image.repo, blob)
    return await client.put_manifest(image.repo, image.tag, image.manifest)


# --- large blobs ---------------------------------------------------------------------------


async def large_push_monolithic(ctx: Context) -> dict[str, Any]:
    blobs = ctx.data.monolithic
    t0 = time.perf_counter()
    for blob in blobs:
        await ctx.client.push_monolithic(LARGE_REPO, blob.digest, blob.size,
                                         aiter_chunks(blob.chunks()))
    elapsed = time.perf_counter() - t0
    total = sum(b.size for b in blobs)
    return {"mbps": total / elapsed / 1e6, "bytes": total, "seconds": elapsed}


async def large_push_chunked(ctx: Context) -> dict[str, Any]:
    blobs = ctx.data.chunked
    t0 = time.perf_counter()
    for blob in blobs:
        await ctx.client.push_chunked(LARGE_REPO, blob, ctx.profile.chunk_size)
    elapsed = time.perf_counter() - t0
    total = sum(b.size for b in blobs)
    return {"mbps": total / elapsed / 1e6, "bytes": total, "seconds": elapsed,
            "chunk_mib": ctx.profile.chunk_size / MiB}


async def large_pull(ctx: Context) -> dict[str, Any]:
    ctx.require("large_push_monolithic")
    blobs = ctx.data.monolithic
    total = 0
    t0 = time.perf_counter()
    for _ in range(ctx.profile.pull_rounds):
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(ctx.client.pull_blob(LARGE_REPO, b.digest, b.size))
                     for b in blobs]
        total += sum(t.result() for t in tasks)
    elapsed = time.perf_counter() - t0
    return {"mbps": total / elapsed / 1e6, "bytes": total, "seconds": elapsed,
            "concurrency": len(blobs)}


# --- small images ------------------------------------------------------------------------


async def small_push(ctx: Context) -> dict[str, Any]:
    latencies: list[float] = []

    async def one(image: SmallImage) -> None:
        latencies.append(await push_image(ctx.client, image))

    images = ctx.data.small
    await ctx.client.authorize([repo_scope(image.repo) for image in images])
    t0 = time.perf_counter()
    await bounded(ctx.profile.small_concurrency, images, one)
    elapsed = time.perf_counter() - t0
    return {
        "images_per_s": len(images) / elapsed,
        "images": len(images),
        "seconds": elapsed,
        "manifest_put_p50_ms": percentile(latencies, 50) * 1000,
        "manifest_put_p99_ms": percentile(latencies, 99) * 1000,
        "concurrency": ctx.profile.small_concurrency,
    }


async def manifest_get(ctx: Context) -> dict[str, Any]:
    ctx.require("small_push")
    image = ctx.data.small[0]
    body = await ctx.client.get_manifest(image.repo, image.tag)
    if body != image.manifest:
        raise RegistryError("manifest GET returned different bytes than were pushed")
    url = f"{ctx.server.url}/v2/{image.repo}/manifests/{image.tag}"
    auth = await ctx.client.auth_headers(repo_scope(image.repo))
    return await run_wrk(url, method="GET", accept=OCI_MANIFEST, headers=auth,
                         seconds=ctx.profile.wrk_seconds,
                         connections=ctx.profile.wrk_connections)


async def blob_head(ctx: Context) -> dict[str, Any]:
    ctx.require("small_push")
    image = ctx.data.small[0]
    digest = image.layers[0].digest
    if not await ctx.client.blob_exists(image.repo, digest):
        raise RegistryError("pushed layer is missing")
    url = f"{ctx.server.url}/v2/{image.repo}/blobs/{digest}"
    auth = await ctx.client.auth_headers(repo_scope(image.repo))
    return await run_hey(url, method="HEAD", accept=None, headers=auth,
                         seconds=ctx.profile.wrk_seconds,
                         connections=ctx.profile.wrk_connections)


# --- listings ----------------------------------------------------------------------------


async def _timed_listing(ctx: Context, path: str, key: str, scope: str
                         ) -> tuple[list[str], int, float]:
    runs: list[float] = []
    items: list[str] = []
    pages = 0
    await ctx.client.authorize([scope])
    for _ in range(ctx.profile.listing_repeats):
        t0 = time.perf_counter()
        items, pages = await ctx.client.list_paginated(path, key, ctx.profile.page_size, scope)
        runs.append(time.perf_counter() - t0)
    return items, pages, statistics.median(runs)


async def tags_list(ctx: Context) -> dict[str, Any]:
    image = ctx.data.tag_image
    tags = [f"t{i:05d}" for i in range(ctx.profile.tags)]

    async def tag(name: str) -> None:
        await ctx.client.put_manifest(TAGS_REPO, name, image.manifest)

    for blob in image.blobs:  # setup, untimed
        await ctx.client.push_small_blob(TAGS_REPO, blob)
    await bounded(32, tags, tag)

    items, pages, seconds = await _timed_listing(ctx, f"/v2/{TAGS_REPO}/tags/list", "tags",
                                                repo_scope(TAGS_REPO))
    if sorted(items) != tags:
        raise RegistryError(f"tag listing returned {len(items)} tags, wanted {len(tags)}")
    return {"seconds": seconds, "tags": len(items), "pages": pages,
            "page_size": ctx.profile.page_size}


async def catalog_list(ctx: Context) -> dict[str, Any]:
    ctx.require("tags_list")
    image = ctx.data.tag_image
    layer = image.layers[0]
    manifest = make_manifest(image.config, (layer,))
    repos = [f"bench/cat-{i:05d}" for i in range(ctx.profile.repos)]

    async def create(repo: str) -> None:
        for blob in (image.config, layer):
            if not await ctx.client.mount_blob(repo, blob.digest, TAGS_REPO):
                await ctx.client.push_small_blob(repo, blob)
        await ctx.client.put_manifest(repo, "latest", manifest)

    # setup, untimed; like docker, each token also grants pull on the repository mounted from
    await ctx.client.authorize([repo_scope(r) for r in repos],
                               also=(f"repository:{TAGS_REPO}:pull",))
    await bounded(32, repos, create)

    items, pages, seconds = await _timed_listing(ctx, "/v2/_catalog", "repositories",
                                                CATALOG_SCOPE)
    missing = set(repos) - set(items)
    if missing or len(items) != len(set(items)):
        raise RegistryError(f"catalog: {len(missing)} created repositories missing, "
                            f"{len(items) - len(set(items))} duplicates")
    return {"seconds": seconds, "repositories": len(items), "pages": pages,
            "page_size": ctx.profile.page_size}


# --- memory ------------------------------------------------------------------------------


async def push_rss(ctx: Context) -> dict[str, Any]:
    blob = ctx.data.rss_blob
    pid = ctx.server.pid
    baseline = tree_rss_bytes(pid, descendants(pid))
    t0 = time.perf_counter()
    with RssSampler(pid) as sampler:
        await ctx.client.push_monolithic(RSS_REPO, blob.digest, blob.size,
                                         aiter_chunks(blob.chunks()))
    elapsed = time.perf_counter() - t0
    return {
        "peak_rss_mib": sampler.peak / MiB,
        "baseline_rss_mib": baseline / MiB,
        "push_mib": blob.size / MiB,
        "samples": sampler.samples,
        "mbps": blob.size / elapsed / 1e6,
    }


Scenario = Callable[[Context], Awaitable[dict[str, Any]]]

SCENARIOS: dict[str, Scenario] = {
    "large_push_monolithic": large_push_monolithic,
    "large_push_chunked": large_push_chunked,
    "large_pull": large_pull,
    "small_push": small_push,
    "manifest_get": manifest_get,
    "blob_head": blob_head,
    "tags_list": tags_list,
    "catalog_list": catalog_list,
    "push_rss": push_rss,
}
