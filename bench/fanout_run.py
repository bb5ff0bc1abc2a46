"""One measured fan-out run against a running target: receivers subscribed, the sender's
messages out, every delivery timed, the servers' CPU time counted."""

from __future__ import annotations

import asyncio
import contextlib
import math
from dataclasses import dataclass
from pathlib import Path

from bench.fanout_receivers import ReceiverPlan, ReceiverProcess
from bench.fanout_sender import Sender
from bench.fanout_targets import Target
from bench.support.meters import CpuMeter
from bench.support.stats import Latencies

__all__ = ["Load", "Outcome", "measure"]


@dataclass(frozen=True)
class Load:
    receivers: int
    messages: int
    rate: float | None  # messages a second; None: as fast as the sender's window allows
    window: int  # sends awaiting their acknowledgement at most
    receiver_processes: int


@dataclass(frozen=True)
class Outcome:
    deliveries_per_second: float
    latency: Latencies
    lost: int  # deliveries expected but never received
    seq_errors: int  # gaps and duplicates seen by Parley's receivers
    closed_early: int  # receivers the server closed on before they had everything
    acknowledged: int  # sends the target acknowledged
    cpu_us_per_delivery: float  # of every instance
    # Of the instances other than the sender's: delivery alone, without the sends.
    delivering_cpu_us_per_delivery: float
    # Of the receiving clients, who share the machine: a target's frames cost them too.
    receivers_cpu_us_per_delivery: float


def _plans(target: Target, load: Load) -> list[ReceiverPlan]:
    endpoints = target.receiver_endpoints(load.receivers)
    processes = min(load.receiver_processes, load.receivers)
    # Interleaved, so that every process has sockets on every instance.
    return [
        ReceiverPlan(target.dialect, target.room, endpoints[index::processes], load.messages)
        for index in range(processes)
    ]


async def measure(target: Target, sender: Sender, load: Load, logs: Path) -> Outcome:
    async with contextlib.AsyncExitStack() as stack:
        receivers = [
            await stack.enter_async_context(
                ReceiverProcess.started(plan, logs / f"receivers-{index}.log")
            )
            for index, plan in enumerate(_plans(target, load))
        ]
        await asyncio.gather(*(receiver.ready() for receiver in receivers))
        # The sender is on the first instance.
        meters = [
            CpuMeter(target.pids),
            CpuMeter(target.pids[1:]),
            CpuMeter([receiver.pid for receiver in receivers]),
        ]
        for meter in meters:
            meter.start()
        sent = await sender.send(target.room, load.messages, rate=load.rate, window=load.window)
        reports = await asyncio.gather(*(receiver.report() for receiver in receivers))
        servers, delivering, receiving = (meter.stop() for meter in meters)
        await asyncio.gather(*(receiver.close() for receiver in receivers))

    received = sum(report.received for report in reports)
    delivered_by_others = received * (len(target.pids) - 1) / len(target.pids)
    last_arrival_ns = max(report.last_arrival_ns for report in reports)
    elapsed = (last_arrival_ns - sent.first_send_ns) / 1e9
    return Outcome(
        deliveries_per_second=received / elapsed if received and elapsed > 0 else math.nan,
        latency=Latencies.of_seconds(
            [latency / 1e9 for report in reports for latency in report.latencies_ns]
        ),
        lost=load.receivers * load.messages - received,
        seq_errors=sum(report.seq_errors for report in reports),
        closed_early=sum(report.closed_early for report in reports),
        acknowledged=sent.acknowledged,
        cpu_us_per_delivery=_micros_each(servers, received),
        delivering_cpu_us_per_delivery=_micros_each(delivering, delivered_by_others),
        receivers_cpu_us_per_delivery=_micros_each(receiving, received),
    )


def _micros_each(seconds: float, count: float) -> float:
    return seconds * 1e6 / count if count else math.nan
