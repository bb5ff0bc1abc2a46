"""``eventually``, the suite's one way of waiting: the answer it waited for, or a failure that
says what it waited for and what it saw last."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.waiting import eventually


async def test_it_returns_the_answer_it_waited_for() -> None:
    answers = iter([0, 0, 3])

    async def count() -> int:
        return next(answers)

    assert await eventually(count, lambda n: n == 3, every=0) == 3


async def test_it_fails_naming_what_it_awaited_and_the_last_answer() -> None:
    seen = [1, 2]
    with pytest.raises(AssertionError, match=r"not within 0\.05 s: .*len\(seen\) == 3.*False"):
        await eventually(lambda: len(seen) == 3, within=0.05)
    with pytest.raises(AssertionError, match=r"three seen; last seen: 2$"):
        await eventually(lambda: len(seen), lambda n: n == 3, within=0.05, what="three seen")


async def test_a_probe_that_hangs_fails_at_the_deadline() -> None:
    async def hangs() -> bool:
        await asyncio.sleep(60)
        return True

    with pytest.raises(AssertionError, match="never answered"):
        await eventually(hangs, within=0.05)


async def test_ignored_errors_mean_not_yet_and_others_end_the_wait() -> None:
    attempts = 0

    def refused_twice() -> bool:
        nonlocal attempts
        attempts += 1
        if attempts <= 2:
            raise ConnectionRefusedError
        return True

    assert await eventually(refused_twice, ignoring=(ConnectionRefusedError,), every=0)
    assert attempts == 3
    attempts = 0
    with pytest.raises(ConnectionRefusedError):
        await eventually(refused_twice)
    assert attempts == 1


async def test_the_probe_s_own_timeout_is_not_taken_for_the_deadline() -> None:
    async def times_out() -> bool:
        async with asyncio.timeout(0):
            await asyncio.sleep(1)
        return True

    with pytest.raises(TimeoutError):
        await eventually(times_out, within=10)
