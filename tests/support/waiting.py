"""Waiting for something that happens in its own time: the one way a test waits.

A test that sleeps for a guessed while, or counts loop turns, passes on an idle machine and
fails on a busy one. ``eventually`` asks again and again until the answer is the one wanted,
and only a deadline far beyond the usual wait ends it, with what was awaited and the last
answer seen.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

__all__ = ["eventually"]

T = TypeVar("T")


@overload
async def eventually(
    probe: Callable[[], Awaitable[T]],
    until: Callable[[T], object] = ...,
    *,
    within: float = ...,
    every: float = ...,
    what: str | None = ...,
    ignoring: tuple[type[Exception], ...] = ...,
) -> T: ...


@overload
async def eventually(
    probe: Callable[[], T],
    until: Callable[[T], object] = ...,
    *,
    within: float = ...,
    every: float = ...,
    what: str | None = ...,
    ignoring: tuple[type[Exception], ...] = ...,
) -> T: ...


async def eventually(
    probe: Callable[[], object],
    until: Callable[[Any], object] = bool,
    *,
    within: float = 10.0,
    every: float = 0.01,
    what: str | None = None,
    ignoring: tuple[type[Exception], ...] = (),
) -> object:
    """Call ``probe`` (a function or a coroutine function) every ``every`` seconds (0: at
    every turn of the event loop) until ``until`` accepts its answer (by default: until the
    answer is truthy), and return that answer. Fails with an ``AssertionError`` naming
    ``what`` (by default the probe's source) and the last answer once ``within`` seconds
    have passed, a probe that hangs included. Exceptions of ``ignoring`` count as "not yet"
    (a server still starting refuses connections); any other propagates at once."""
    last: object = "nothing: the probe never answered"
    try:
        async with asyncio.timeout(within) as deadline:
            while True:
                try:
                    answer = probe()
                    if inspect.isawaitable(answer):
                        answer = await answer
                except ignoring as error:
                    last = error
                else:
                    if until(answer):
                        return answer
                    last = answer
                await asyncio.sleep(every)
    except TimeoutError:
        if not deadline.expired():
            raise  # the probe's own timeout, not ours
        msg = f"not within {within} s: {what or _describe(probe)}; last seen: {last!r}"
        raise AssertionError(msg) from None


def _describe(probe: Callable[[], object]) -> str:
    """The probe's source line when it is a lambda, else its name."""
    name = getattr(probe, "__qualname__", repr(probe))
    if name.endswith("<lambda>"):
        try:
            return inspect.getsource(probe).strip()
        except (OSError, TypeError):
            pass
    return str(name)
