"""The queue benchmark's WaitProbe (``bench/queue_tasks.py``): a job whose handler logs how
long it waited in the queue, which the benchmark reads back as its latency figures."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator

import pytest

from bench.queue_tasks import WaitProbe, log_wait
from parley.tasks.commands import decode_command, encode_command

RUNTIME_LOGGER = "bench.queue_tasks"


@pytest.fixture
def runtime_log(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> Iterator[pytest.LogCaptureFixture]:
    # Listening on the logger itself, not at the root: an in-process server elsewhere in the
    # run may have configured "parley" not to propagate there.
    logger = logging.getLogger(RUNTIME_LOGGER)
    monkeypatch.setattr(logger, "propagate", False)
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger=RUNTIME_LOGGER):
            yield caplog
    finally:
        logger.removeHandler(caplog.handler)


def test_a_probe_is_stamped_with_the_time_it_is_made() -> None:
    before = time.time()
    probe = WaitProbe()
    assert before <= probe.sent_at <= time.time()


def test_a_probe_travels_with_its_stamp_unchanged() -> None:
    probe = WaitProbe(sent_at=1_700_000_000.123456)
    assert decode_command(encode_command(probe)) == probe


async def test_its_handler_logs_the_wait_since_the_stamp(
    runtime_log: pytest.LogCaptureFixture,
) -> None:
    await log_wait(WaitProbe(sent_at=time.time() - 0.25))
    [record] = runtime_log.records
    match = re.fullmatch(r"wait probe waited (\d+\.\d{6}) s in the queue", record.getMessage())
    assert match is not None
    assert 0.25 <= float(match.group(1)) < 5
