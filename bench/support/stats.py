"""Latency and throughput figures."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Latencies", "percentile", "ratio"]


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in 0..1) of ``values``; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Latencies:
    """p50/p95/p99 of a set of durations, in milliseconds."""

    p50: float
    p95: float
    p99: float
    count: int

    @classmethod
    def of_seconds(cls, seconds: Sequence[float]) -> Latencies:
        millis = [value * 1000 for value in seconds]
        return cls(
            p50=percentile(millis, 0.50),
            p95=percentile(millis, 0.95),
            p99=percentile(millis, 0.99),
            count=len(millis),
        )


def ratio(ours: float, theirs: float) -> float:
    """``ours / theirs``, NaN when there is nothing to compare with."""
    if theirs == 0 or math.isnan(theirs) or math.isnan(ours):
        return math.nan
    return ours / theirs
