"""``GET /metrics`` for Prometheus: the yard's jobs, chunks and items read from the database at each scrape (so
every API process reports the same, whoever ran the work), and this process's live event streams."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from batchyard.core.status import ChunkStatus, JobStatus
from batchyard.observability import add_shared_metrics
from batchyard.service.events import EventHub
from batchyard.store.base import Store

router = APIRouter()


class YardCollector(Collector):
    def __init__(self, store: Store, events: EventHub) -> None:
        self.store = store
        self.events = events

    def collect(self) -> Iterator[GaugeMetricFamily]:
        stats = self.store.stats()
        jobs = GaugeMetricFamily("batchyard_jobs", "Jobs by status", labels=["status"])
        for status in JobStatus:
            jobs.add_metric([status.value], stats.jobs.get(status.value, 0))
        yield jobs
        chunks = GaugeMetricFamily(
            "batchyard_chunks", "Chunks by status (pending: waiting for a worker)", labels=["status"]
        )
        for chunk_status in ChunkStatus:
            chunks.add_metric([chunk_status.value], stats.chunks.get(chunk_status.value, 0))
        yield chunks
        items = GaugeMetricFamily("batchyard_items", "Items of all jobs by outcome", labels=["state"])
        for state in ("processed", "succeeded", "failed", "skipped"):
            items.add_metric([state], getattr(stats.items, state))
        yield items
        yield GaugeMetricFamily(
            "batchyard_event_streams",
            "Live event streams (SSE clients) open on this process",
            value=self.events.subscribers,
        )


def registry_for(store: Store, events: EventHub) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(YardCollector(store, events))
    add_shared_metrics(registry)  # the chunk duration histogram, written by the workers of this process tree
    return registry


_TEXT: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Prometheus text format"}
}


@router.get(
    "/metrics", operation_id="metrics", include_in_schema=True, response_class=Response, responses=_TEXT, tags=["meta"]
)
def metrics(request: Request) -> Response:
    """Prometheus text format; no token needed (expose it only where Prometheus can reach it)."""
    registry: CollectorRegistry = request.app.state.metrics
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
