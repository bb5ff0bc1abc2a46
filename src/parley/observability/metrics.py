"""Prometheus metrics, in a registry of each app's own (tests build many apps per process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from parley.tasks.queue import TaskQueue

__all__ = ["Metrics"]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.queue_depth = Gauge(
            "parley_queue_depth", "Jobs waiting to be handed out.", registry=self.registry
        )
        self.queue_in_flight = Gauge(
            "parley_queue_in_flight",
            "Jobs handed out, not yet acknowledged.",
            registry=self.registry,
        )
        self.queue_delayed = Gauge(
            "parley_queue_delayed", "Retries waiting for their backoff.", registry=self.registry
        )
        self.queue_dead = Gauge(
            "parley_queue_dead_letters", "Jobs in the dead letters.", registry=self.registry
        )
        self.queue_retries = Gauge(
            "parley_queue_retries",
            "Retries scheduled since the queue began.",
            registry=self.registry,
        )

    async def render(self, queue: TaskQueue) -> bytes:
        """The text exposition, with the queue's figures read now (they live in Redis, so
        every instance reports the cluster's queue)."""
        stats = await queue.stats()
        self.queue_depth.set(stats.depth)
        self.queue_in_flight.set(stats.in_flight)
        self.queue_delayed.set(stats.delayed)
        self.queue_dead.set(stats.dead)
        self.queue_retries.set(stats.retries)
        return generate_latest(self.registry)
