"""A clock that stands still until the test moves it on, in place of sleeping until a window
or a deadline has passed."""

from __future__ import annotations

__all__ = ["FrozenClock"]


class FrozenClock:
    """Seconds since the epoch, as ``time.time()`` gives them: a stand-in for the ``time``
    module wherever a module reads the time as ``time.time()``."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
