"""Queue: Parley's Redis queue beside taskiq's stream broker (the peer, acknowledgement and
reclaim on) and a bare reliable Redis list consumer (the floor), in one run.

For each, in turn: 5,000 no-op jobs are enqueued one awaited call at a time (enqueued jobs/s);
then one worker process drains them (processed jobs/s and the worker's CPU µs per job, from the
first job it acknowledges to the last, so its start-up is left out); then, that worker idle,
200 jobs are enqueued 10 ms apart and each has the worker log, as it starts it, how long it
waited since it was enqueued (p50/p99). Workers run at their library's default concurrency.

    uv run python -m bench.queue_throughput [--smoke]
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path

from bench.queue_contenders import Contender, floor_queue, parley_queue, taskiq_queue
from bench.queue_drain import Drain, drain
from bench.queue_wait_probes import logged_waits, send_at_pace
from bench.support.runner import run_scenario
from bench.support.stats import Latencies, ratio
from bench.support.table import Table

__all__ = ["run"]

PROBE_INTERVAL = 0.010
IDLE_BEFORE_PROBES = 0.5  # the drained worker settles into waiting for work
PROCESSED_TARGET = 2.0  # Parley's processed jobs/s over taskiq's, at least
P50_TARGET_MS, P99_TARGET_MS = 1.0, 2.0
PHASE_TIMEOUT = 300.0  # a worker that died or hangs fails the run instead of stalling it


@dataclass(frozen=True)
class Size:
    jobs: int
    probes: int


FULL = Size(jobs=5_000, probes=200)
SMOKE = Size(jobs=50, probes=10)


@dataclass(frozen=True)
class Figures:
    label: str
    worker_setting: str
    enqueued_per_second: float
    drain: Drain
    waits: Latencies


OpenContender = Callable[[Path], AbstractAsyncContextManager[Contender]]


async def run(workdir: Path, smoke: bool) -> list[Table]:
    size = SMOKE if smoke else FULL
    figures = []
    opens: list[OpenContender] = [parley_queue, taskiq_queue, floor_queue]
    for open_contender in opens:
        async with open_contender(workdir) as contender:
            figures.append(await _measure(contender, size, workdir))
    return [_table(size, *figures)]


async def _measure(contender: Contender, size: Size, workdir: Path) -> Figures:
    started = time.perf_counter()
    for _ in range(size.jobs):
        await contender.enqueue_noop()
    enqueued_per_second = size.jobs / (time.perf_counter() - started)
    log = workdir / f"{contender.slug}-worker.log"
    async with contender.worker(log) as worker:
        try:
            async with asyncio.timeout(PHASE_TIMEOUT):
                drained = await drain(contender.unfinished, size.jobs, worker.pid)
                await asyncio.sleep(IDLE_BEFORE_PROBES)
                await send_at_pace(contender.enqueue_wait_probe, size.probes, PROBE_INTERVAL)
                waits = await logged_waits(log, size.probes)
        except TimeoutError as error:
            tail = log.read_text(errors="replace")[-3000:]
            msg = f"{contender.label}: the worker stalled (exit code {worker.returncode}):\n{tail}"
            raise RuntimeError(msg) from error
    return Figures(
        contender.label,
        contender.worker_setting,
        enqueued_per_second,
        drained,
        Latencies.of_seconds(waits),
    )


def _table(size: Size, parley: Figures, taskiq: Figures, floor: Figures) -> Table:
    table = Table(
        f"Queue: {size.jobs:,} no-op jobs enqueued one awaited call at a time, then drained by "
        f"one worker process; then {size.probes} jobs {PROBE_INTERVAL * 1000:g} ms apart "
        f"to the idle worker (enqueue-to-start latency)",
        [
            "queue",
            "worker",
            "enqueued jobs/s",
            "processed jobs/s",
            "worker CPU µs/job",
            "p50 (ms)",
            "p99 (ms)",
            "Parley processed ÷ this",
            "target",
            "met",
        ],
    )

    def row(figures: Figures, over: float | str, target: str, *, met: bool | None) -> None:
        table.add(
            figures.label,
            figures.worker_setting,
            figures.enqueued_per_second,
            figures.drain.jobs_per_second,
            figures.drain.cpu_microseconds_per_job,
            figures.waits.p50,
            figures.waits.p99,
            over,
            target,
            "-" if met is None else ("yes" if met else "no"),
        )

    processed = parley.drain.jobs_per_second
    latency_target = f"p50 ≤ {P50_TARGET_MS:g} ms, p99 ≤ {P99_TARGET_MS:g} ms"
    latency_met = parley.waits.p50 <= P50_TARGET_MS and parley.waits.p99 <= P99_TARGET_MS
    row(parley, "-", latency_target, met=latency_met)
    over_taskiq = ratio(processed, taskiq.drain.jobs_per_second)
    taskiq_target = f"≥ {PROCESSED_TARGET:g}\N{MULTIPLICATION SIGN}"
    row(taskiq, over_taskiq, taskiq_target, met=over_taskiq >= PROCESSED_TARGET)
    row(floor, ratio(processed, floor.drain.jobs_per_second), "- (the floor)", met=None)
    return table


if __name__ == "__main__":
    run_scenario(run, "Queue: enqueue, drain and enqueue-to-start latency against taskiq")
