"""The processing pool: each call within its CPU limit, and a pool whose process died made
again. Real processes, spawned as the worker's are."""

from __future__ import annotations

import os
import signal
from concurrent.futures.process import BrokenProcessPool

import pytest

from parley.processing.detect import FileKind
from parley.processing.pool import ProcessingPool, within_cpu_seconds
from parley.processing.previews import RejectedFileError, make_preview
from tests.support.files import pdf_drawing_one_form_many_times, pdf_with_text


def _die() -> None:
    """As a processing process killed for its memory would."""
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_file_that_takes_too_much_cpu_is_rejected_and_stopped() -> None:
    slow = pdf_drawing_one_form_many_times()  # minutes of parsing
    with pytest.raises(RejectedFileError, match=r"more than 0\.5 s of CPU"):
        within_cpu_seconds(0.5, make_preview, FileKind.PDF, slow, 1)
    # Within the limit, the result comes back as it would without one.
    preview = within_cpu_seconds(5, make_preview, FileKind.PDF, pdf_with_text(), 1)
    assert preview.result["pages"] == 2


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


async def test_a_pool_rejects_what_exceeds_its_limit_and_takes_the_next_file() -> None:
    pool = ProcessingPool(1, cpu_seconds=0.5)
    try:
        with pytest.raises(RejectedFileError):
            await pool.run(make_preview, FileKind.PDF, pdf_drawing_one_form_many_times(), 1)
        preview = await pool.run(make_preview, FileKind.PDF, pdf_with_text(), 1)
        assert preview.result["kind"] == "pdf"
    finally:
        pool.shutdown()
