"""A deadline inside the event loop for every async test.

pytest-timeout's alarm raises its failure in whatever code runs when it fires. In an event
loop that is often another task's step (an HTTP client's, a server's), which keeps the
exception as its own and lets the test wait on, with no timeout left, for ever. So an async
test is first cancelled from inside its own loop, a little before the alarm, and fails with
a ``TimeoutError`` at the line it was waiting on; the alarm stays for what is not async.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

__all__ = ["give_async_tests_a_deadline"]

# Of pytest-timeout's limit, which also counts the fixtures' set-up, the test itself gets this.
_SHARE = 0.9

AsyncTest = Callable[..., Coroutine[Any, Any, Any]]


def give_async_tests_a_deadline(items: list[pytest.Item], default_seconds: float) -> None:
    for item in items:
        if not isinstance(item, pytest.Function) or not inspect.iscoroutinefunction(item.obj):
            continue
        marker = item.get_closest_marker("timeout")
        seconds = float(marker.args[0]) if marker and marker.args else default_seconds
        if seconds > 0:
            item.obj = _within(item.obj, seconds * _SHARE)


def _within(test: AsyncTest, seconds: float) -> AsyncTest:
    @functools.wraps(test)
    async def bounded(*args: Any, **kwargs: Any) -> Any:
        async with asyncio.timeout(seconds):
            return await test(*args, **kwargs)

    return bounded
