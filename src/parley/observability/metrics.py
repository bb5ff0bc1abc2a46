"""Prometheus metrics, in a registry of each app's own (tests build many apps per process)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

__all__ = ["DeliveryMetrics", "Metrics", "QueueFigures"]

_FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_JOBS = (0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0)


class QueueFigures(Protocol):
    """What ``/metrics`` reports of the queue (the queue's ``QueueStats``): observability sits
    below the queue and knows it only by these figures."""

    @property
    def depth(self) -> int: ...
    @property
    def in_flight(self) -> int: ...
    @property
    def delayed(self) -> int: ...
    @property
    def dead(self) -> int: ...
    @property
    def retries(self) -> int: ...


class DeliveryMetrics:
    """``parley_messages_delivered_total`` and ``parley_delivery_latency_seconds``, counted in
    plain numbers and turned into metrics when scraped.

    They are recorded once per frame written to each socket, the hottest path there is.
    prometheus_client's Counter and Histogram take a lock for every observation (a histogram
    one per bucket it walks); within one event loop a plain increment is as exact.
    """

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self._bounds = buckets
        self._counts = [0] * (len(buckets) + 1)  # per bucket, the last one being +Inf
        self._latency_sum = 0.0
        self._delivered = 0

    def record(self, latency: float | None, frames: int = 1) -> None:
        """``frames`` frames written, the same message to as many sockets; ``latency`` from
        its publication, if it was a live message."""
        self._delivered += frames
        if latency is not None:
            latency = max(latency, 0.0)  # instances' clocks differ a little
            self._counts[bisect_left(self._bounds, latency)] += frames
            self._latency_sum += latency * frames

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "parley_messages_delivered", "Message frames written to sockets.", self._delivered
        )
        cumulative, buckets = 0, []
        for bound, count in zip((*map(repr, self._bounds), "+Inf"), self._counts, strict=True):
            cumulative += count
            buckets.append((bound, float(cumulative)))
        yield HistogramMetricFamily(
            "parley_delivery_latency_seconds",
            "From the commit (publish) of a message to its write on a socket.",
            buckets=buckets,
            sum_value=self._latency_sum,
        )


class Metrics:
    def __init__(self) -> None:
        registry = self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "parley_http_requests",
            "HTTP requests, by route template, method and status.",
            ["route", "method", "status"],
            registry=registry,
        )
        self.http_duration = Histogram(
            "parley_http_request_duration_seconds",
            "HTTP request durations.",
            ["route", "method"],
            buckets=_FAST,
            registry=registry,
        )
        self.sockets = Gauge(
            "parley_websocket_connections", "Open, authenticated WebSockets.", registry=registry
        )
        self.messages_stored = Counter(
            "parley_messages_stored", "Messages committed (announced) here.", registry=registry
        )
        deliveries = DeliveryMetrics(_FAST)
        registry.register(deliveries)
        # Called for every message written to sockets (a room's written at once in one call):
        # the recorder itself, no call in between.
        self.delivered = deliveries.record
        self.broker_reconnects = Gauge(
            "parley_broker_reconnects", "Times the broker reconnected.", registry=registry
        )
        self.jobs = Counter(
            "parley_jobs", "Jobs finished, by outcome.", ["outcome"], registry=registry
        )
        self.job_duration = Histogram(
            "parley_job_duration_seconds",
            "Job durations, by outcome.",
            ["outcome"],
            buckets=_JOBS,
            registry=registry,
        )
        self.queue_depth = Gauge(
            "parley_queue_depth", "Jobs waiting to be handed out.", registry=registry
        )
        self.queue_in_flight = Gauge(
            "parley_queue_in_flight", "Jobs handed out, not yet acknowledged.", registry=registry
        )
        self.queue_delayed = Gauge(
            "parley_queue_delayed", "Retries waiting for their backoff.", registry=registry
        )
        self.queue_dead = Gauge(
            "parley_queue_dead_letters", "Jobs in the dead letters.", registry=registry
        )
        self.queue_retries = Gauge(
            "parley_queue_retries", "Retries scheduled since the queue began.", registry=registry
        )

    def job_finished(self, outcome: str, seconds: float) -> None:
        self.jobs.labels(outcome).inc()
        self.job_duration.labels(outcome).observe(seconds)

    def render(self, queue: QueueFigures, *, broker_reconnects: int) -> bytes:
        """The text exposition, with the figures the caller has just read: the queue's (they
        live in Redis, so every instance reports the cluster's queue) and the broker's."""
        self.queue_depth.set(queue.depth)
        self.queue_in_flight.set(queue.in_flight)
        self.queue_delayed.set(queue.delayed)
        self.queue_dead.set(queue.dead)
        self.queue_retries.set(queue.retries)
        self.broker_reconnects.set(broker_reconnects)
        return generate_latest(self.registry)
