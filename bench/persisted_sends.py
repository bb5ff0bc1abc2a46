"""Persisted sends: acknowledged messages/s of many concurrent senders on two ``parley serve``
instances, beside plain asyncpg doing the same work on the same schema (the floor).

Each sender has one message in flight: it sends, waits for the acknowledgement, sends the
next. Two shapes: spread across many rooms, and all into one busy room, where every send
waits for the room's lock.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.peers.asyncpg_sends import POOL_SIZE
from bench.sends_parley import ParleySent, parley_sends
from bench.sends_plan import SendPlan, Sent
from bench.support.parley import accounts, parley_cluster, postgres_database
from bench.support.runner import run_scenario
from bench.support.spawn import python_process
from bench.support.stats import ratio
from bench.support.table import Table

__all__ = ["run"]

TARGET = 0.5  # Parley's messages/s as a fraction of the floor's, in every shape
INSTANCES = 2


def plans(*, smoke: bool) -> dict[str, SendPlan]:
    """The shapes by name. Accounts are few (password hashing is slow); each has several
    sockets, and sockets are what count."""
    if smoke:
        spread = SendPlan(senders=5, messages=20, warmup=2, rooms=10, accounts=2)
    else:
        spread = SendPlan(senders=50, messages=200, warmup=5, rooms=100, accounts=10)
    return {
        f"across {spread.rooms} rooms": spread,
        "into one busy room": SendPlan(
            senders=spread.senders,
            messages=spread.messages,
            warmup=spread.warmup,
            rooms=1,
            accounts=spread.accounts,
        ),
    }


async def parley_runs(workdir: Path, shapes: dict[str, SendPlan]) -> dict[str, ParleySent]:
    async with parley_cluster(workdir, INSTANCES) as cluster:
        members = await accounts(cluster.url(0), max(plan.accounts for plan in shapes.values()))
        return {name: await parley_sends(cluster, members, plan) for name, plan in shapes.items()}


async def floor_runs(workdir: Path, shapes: dict[str, SendPlan]) -> dict[str, Sent]:
    """The asyncpg floor in a process of its own, on a fresh database of Parley's schema."""
    sent: dict[str, Sent] = {}
    async with postgres_database() as database_url:
        dsn = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
        for index, (name, plan) in enumerate(shapes.items()):
            result = workdir / f"floor-{index}.json"
            log = workdir / f"floor-{index}.log"
            arguments = ["-m", "bench.peers.asyncpg_sends", f"--database-url={dsn}"]
            async with python_process(
                [*arguments, f"--result={result}", *plan.arguments()], log
            ) as process:
                if await process.wait() != 0:
                    msg = f"the asyncpg floor failed:\n{log.read_text()[-3000:]}"
                    raise RuntimeError(msg)
            sent[name] = Sent(**json.loads(result.read_text()))
    return sent


async def run(workdir: Path, smoke: bool) -> list[Table]:
    shapes = plans(smoke=smoke)
    parley = await parley_runs(workdir, shapes)
    floor = await floor_runs(workdir, shapes)
    senders = next(iter(shapes.values())).senders
    table = Table(
        f"Persisted sends: {senders} senders, one message in flight each; "
        f"Parley on {INSTANCES} instances, the floor on a pool of {POOL_SIZE}",
        [
            "shape",
            "messages",
            "Parley msg/s",
            "asyncpg floor msg/s",
            "Parley ÷ floor",
            "Parley CPU µs/msg",
            "target",
            "met",
        ],
    )
    for name in shapes:
        ours, theirs = parley[name].sent, floor[name]
        share = ratio(ours.per_second, theirs.per_second)
        table.add(
            name,
            ours.acknowledged,
            ours.per_second,
            theirs.per_second,
            share,
            parley[name].cpu_micros_per_message,
            f"≥ {TARGET}x floor",
            "yes" if share >= TARGET else "no",
        )
    return [table]


if __name__ == "__main__":
    run_scenario(run, "Persisted sends: Parley beside plain asyncpg, across rooms and in one room")
