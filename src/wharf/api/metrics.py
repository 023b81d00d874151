"""GET /metrics: Prometheus exposition of registry-wide gauges.

Collected on scrape from the services (nothing is kept in prometheus_client's global
registry), so every worker process answers with the shared database's values. Only
registry-wide numbers appear here, so the unauthenticated endpoint names no projects;
per-project figures are in the authenticated /api/v1.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from wharf.signatures.service import SignatureService

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class SignatureCollector(Collector):
    def __init__(self, service: SignatureService) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        stats = self.service.pull_stats()
        pct = GaugeMetricFamily("registry_signed_pulls_pct",
                                "Manifest pulls of signed images, percent of all pulls "
                                "(registry.signed_pulls_pct; NaN before any pull).")
        value = stats["signed_pulls_pct"]
        pct.add_metric([], float("nan") if value is None else float(value))
        yield pct
        pulls = CounterMetricFamily("registry_manifest_pulls",
                                    "Manifest pulls by whether the image was signed.",
                                    labels=["signed"])
        pulls.add_metric(["true"], stats["signed"])
        pulls.add_metric(["false"], stats["unsigned"])
        yield pulls


def _render(request: Request) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    service: SignatureService | None = getattr(request.app.state, "signatures", None)
    if service is not None:
        registry.register(SignatureCollector(service))
    return generate_latest(registry)


async def metrics(request: Request) -> Response:
    return Response(await run_in_threadpool(_render, request), media_type=CONTENT_TYPE)
