"""A job's deadline: paused while the job awaits work bounded elsewhere, and kept after."""

from __future__ import annotations

import asyncio

import pytest

from parley.tasks.deadline import job_deadline, paused


async def test_a_paused_deadline_lets_the_work_outlast_it_and_still_ends_the_job() -> None:
    loop = asyncio.get_running_loop()
    resumed: list[float] = []

    async def job() -> None:
        async with job_deadline(1.0):
            with paused():
                await asyncio.sleep(1.5)  # longer than the whole deadline
            resumed.append(loop.time())
            await asyncio.sleep(30)  # the time left still bounds the rest of the job

    with pytest.raises(TimeoutError):
        await job()
    assert loop.time() - resumed[0] < 10


async def test_a_task_the_job_started_does_not_pause_the_job() -> None:
    async def helper() -> None:
        with paused():
            await asyncio.sleep(30)

    with pytest.raises(TimeoutError):
        async with job_deadline(0.5):
            await asyncio.create_task(helper())


async def test_without_a_job_pausing_does_nothing() -> None:
    with paused():
        await asyncio.sleep(0)
