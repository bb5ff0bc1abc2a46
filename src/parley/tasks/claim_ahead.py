"""How many jobs a worker claims beyond its free slots, from how long its jobs take lately.

Jobs that take microseconds are claimed many at a time: one round trip for a batch, and
the next batch on its way while this one runs. Jobs that take seconds (an image to
decode) are claimed one free slot at a time, so that none of them waits in this worker
while another worker is idle. A job claimed ahead is leased like any other: the worker
extends its lease, gives it back at once when it stops, and a crash leaves it to be
reclaimed.
"""

from __future__ import annotations

__all__ = ["ClaimAhead"]

# The weight of the newest job in the moving average: a change of pace shows within a few
# dozen jobs, and one odd job hardly moves it.
_SMOOTHING = 0.05


class ClaimAhead:
    """As many jobs as ``slots`` would start within ``horizon`` seconds at the recent pace,
    at most ``limit``; none until a first job has shown the pace."""

    def __init__(self, slots: int, horizon: float, limit: int) -> None:
        self._slots = slots
        self._horizon = horizon
        self._limit = limit
        self._seconds_per_job: float | None = None

    def observe(self, seconds: float) -> None:
        """A job took ``seconds`` from its start to its end."""
        if self._seconds_per_job is None:
            self._seconds_per_job = seconds
        else:
            self._seconds_per_job += _SMOOTHING * (seconds - self._seconds_per_job)

    def count(self) -> int:
        if self._seconds_per_job is None:
            return 0
        startable = self._slots * self._horizon / max(self._seconds_per_job, 1e-9)
        return min(self._limit, int(startable))
