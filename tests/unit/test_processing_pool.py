"""The processing pool: each call within its CPU limit, and a pool whose process died made
again. Real processes, spawned as the worker's are."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from concurrent.futures.process import BrokenProcessPool

import pytest

from parley.processing.detect import FileKind
from parley.processing.pool import ProcessingPool
from parley.processing.previews import RejectedFileError, make_preview
from tests.support.files import pdf_drawing_one_form_many_times, pdf_with_text


def _die() -> None:
    """As a processing process killed for its memory would."""
    os.kill(os.getpid(), signal.SIGKILL)


async def test_a_pool_whose_process_died_is_started_again() -> None:
    pool = ProcessingPool(1, cpu_seconds=30)
    try:
        before = await pool.run(os.getpid)
        with pytest.raises(BrokenProcessPool):
            await pool.run(_die)
        after = await pool.run(os.getpid)  # it used to fail this way for good
        assert after != before
    finally:
        pool.shutdown()


async def test_a_file_that_takes_too_much_cpu_is_stopped_and_the_next_one_goes_through() -> None:
    # In a processing process, as in a worker: in the test process a timer's signal could
    # land in the test tools' own callbacks.
    pool = ProcessingPool(1, cpu_seconds=0.5)
    slow = pdf_drawing_one_form_many_times()  # minutes of parsing
    try:
        with pytest.raises(RejectedFileError, match=r"more than 0\.5 s of CPU"):
            await pool.run(make_preview, FileKind.PDF, slow, 1)
        preview = await pool.run(make_preview, FileKind.PDF, pdf_with_text(), 1)
        assert preview.result["pages"] == 2
    finally:
        pool.shutdown()


async def test_a_process_stuck_past_its_wall_clock_limit_is_killed_and_replaced() -> None:
    """Stuck without spending CPU (a read that never returns, say), it would hold its place
    in the pool for good; the CPU limit never comes."""
    pool = ProcessingPool(1, cpu_seconds=5, wall_seconds=0.5)
    try:
        before = await pool.run(os.getpid)
        async with asyncio.timeout(30):
            with pytest.raises(BrokenProcessPool):
                await pool.run(time.sleep, 60)
            after = await pool.run(os.getpid)
        assert after != before
    finally:
        pool.shutdown()
