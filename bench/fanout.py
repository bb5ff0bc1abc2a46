"""Fan-out: one sender and a room of receivers over two instances, Parley against the floor
(a minimal websockets + Redis pub/sub server) and python-socketio with its Redis manager.

At full size, as the issue sets it: two instances, 200 receivers (100 on each), one sender
on the first instance sending 2,000 messages of about 100 bytes, at 200 messages a second
and then as fast as it can. Latency runs from the sender's clock just before the send to
the receiver's clock on arrival; server CPU is both instances' CPU time over deliveries.

    uv run python -m bench.fanout [--smoke]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from bench.fanout_dialects import DIALECTS
from bench.fanout_run import Load, Outcome, measure
from bench.fanout_sender import Sender
from bench.fanout_targets import FLOOR, PARLEY, SOCKETIO, STARTERS, TargetStarter
from bench.support.runner import run_scenario
from bench.support.spawn import raise_open_files_limit
from bench.support.stats import ratio
from bench.support.table import Table

__all__ = ["run"]

INSTANCES = 2
PACED_RATE = 200.0
# Sends awaiting their acknowledgement, the same for every target.
SEND_WINDOW = 100

PACED = f"{PACED_RATE:g} msg/s"
FASTEST = "as fast as possible"
RATES: dict[str, float | None] = {PACED: PACED_RATE, FASTEST: None}


@dataclass(frozen=True)
class Size:
    receivers: int
    messages: int
    warmup: int  # unmeasured sends first: first-use costs are no part of fan-out
    # One process cannot read every socket without becoming what is measured.
    receiver_processes: int


FULL = Size(receivers=200, messages=2_000, warmup=50, receiver_processes=4)
SMOKE = Size(receivers=4, messages=20, warmup=5, receiver_processes=2)

Results = dict[str, dict[str, Outcome]]  # target -> rate -> outcome


async def _measure_target(start: TargetStarter, workdir: Path, size: Size) -> dict[str, Outcome]:
    workdir.mkdir()
    outcomes: dict[str, Outcome] = {}
    async with start(workdir, INSTANCES, size.receivers) as target:
        dialect = DIALECTS[target.dialect]
        async with Sender.opened(target.sender_url, dialect, target.sender_credential) as sender:
            await sender.send(target.room, size.warmup, rate=None, window=SEND_WINDOW)
            for label, rate in RATES.items():
                load = Load(
                    size.receivers, size.messages, rate, SEND_WINDOW, size.receiver_processes
                )
                outcomes[label] = await measure(target, sender, load, workdir)
    return outcomes


def _figures(label: str, results: Results) -> Table:
    table = Table(
        f"Fan-out, {label}",
        [
            "target",
            "deliveries/s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "lost",
            "seq gaps/dups",
            "closed early",
            "server CPU µs/delivery",
            "CPU µs/delivery, instance without the sender",
            "receivers' CPU µs/delivery",
        ],
    )
    for name, outcomes in results.items():
        outcome = outcomes[label]
        table.add(
            name,
            outcome.deliveries_per_second,
            outcome.latency.p50,
            outcome.latency.p95,
            outcome.latency.p99,
            outcome.lost,
            outcome.seq_errors if name == PARLEY else "-",  # only Parley numbers messages
            outcome.closed_early,
            outcome.cpu_us_per_delivery,
            outcome.delivering_cpu_us_per_delivery,
            outcome.receivers_cpu_us_per_delivery,
        )
    return table


def _met(value: float, *, at_most: float | None = None, at_least: float | None = None) -> str:
    if math.isnan(value):
        return "no"
    if at_most is not None and value > at_most:
        return "no"
    if at_least is not None and value < at_least:
        return "no"
    return "yes"


def _compare(
    table: Table,
    label: str,
    ours: float,
    reference: float,
    *,
    at_most: float | None = None,
    at_least: float | None = None,
) -> None:
    share = ratio(ours, reference)
    required = f"≤ {at_most}x" if at_most is not None else f"≥ {at_least}x"
    met = _met(share, at_most=at_most, at_least=at_least)
    table.add(label, ours, reference, share, required, met)


def _targets(results: Results) -> Table:
    table = Table("Fan-out targets", ["target", "Parley", "reference", "ratio", "required", "met"])
    ours, floors, socketios = results[PARLEY], results[FLOOR], results[SOCKETIO]
    lost, disorder = ours[PACED].lost, ours[PACED].seq_errors
    delivered_all = "yes" if lost == 0 and disorder == 0 else "no"
    table.add(f"{PACED}: messages lost", lost, "-", "-", "0, no gap or dup", delivered_all)
    _compare(
        table,
        f"{PACED}: p99 ms vs {SOCKETIO}",
        ours[PACED].latency.p99,
        socketios[PACED].latency.p99,
        at_most=0.6,
    )
    _compare(
        table,
        f"{PACED}: CPU µs/delivery vs floor",
        ours[PACED].cpu_us_per_delivery,
        floors[PACED].cpu_us_per_delivery,
        at_most=1.5,
    )
    _compare(
        table,
        f"{FASTEST}: deliveries/s vs {SOCKETIO}",
        ours[FASTEST].deliveries_per_second,
        socketios[FASTEST].deliveries_per_second,
        at_least=1.5,
    )
    _compare(
        table,
        f"{FASTEST}: deliveries/s vs floor",
        ours[FASTEST].deliveries_per_second,
        floors[FASTEST].deliveries_per_second,
        at_least=0.75,
    )
    return table


async def run(workdir: Path, smoke: bool) -> list[Table]:
    raise_open_files_limit()
    size = SMOKE if smoke else FULL
    results: Results = {}
    for name, start in STARTERS.items():
        results[name] = await _measure_target(start, workdir / name.split()[0], size)
    return [_figures(PACED, results), _figures(FASTEST, results), _targets(results)]


if __name__ == "__main__":
    run_scenario(
        run, "Fan-out: deliveries/s, latency, losses and CPU, against the floor and python-socketio"
    )
