"""Idle sockets: resident memory per authenticated, subscribed, idle socket on one instance,
Parley against the floor (a minimal websockets + Redis pub/sub server at its defaults).

The clients connect as a browser does, offering permessage-deflate: the floor's library
accepts it by default, Parley declines it. A first batch of sockets is opened, and kept
open, before the "before" reading, so that one-time costs (code run for the first time,
the database pool filling up) are not counted per socket.

    uv run python -m bench.idle_sockets [--smoke]
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from websockets.asyncio.client import ClientConnection

from bench.fanout_dialects import DIALECTS, open_socket
from bench.fanout_targets import FLOOR, PARLEY, STARTERS, Target, TargetStarter
from bench.support.meters import resident_bytes
from bench.support.runner import run_scenario
from bench.support.spawn import raise_open_files_limit
from bench.support.stats import ratio
from bench.support.table import Table

__all__ = ["run"]

# Sockets opened at once: a burst of thousands overflows a server's listen backlog.
OPENING_AT_ONCE = 50
SETTLE_POLL_SECONDS = 0.5
SETTLE_TOLERANCE = 0.005  # relative change of RSS between polls taken as settled
SETTLE_MAX_SECONDS = 15.0
REQUIRED_RATIO = 0.75


@dataclass(frozen=True)
class Size:
    sockets: int  # measured
    # Opened first and kept open; at full size as many as open at once, so that the
    # database pool grows to what the measured sockets will find.
    warmup: int


FULL = Size(sockets=2_000, warmup=OPENING_AT_ONCE)
SMOKE = Size(sockets=20, warmup=5)


@dataclass(frozen=True)
class Footprint:
    sockets: int
    before: int  # bytes
    after: int

    @property
    def per_socket(self) -> float:
        return (self.after - self.before) / self.sockets


async def _open(target: Target, endpoints: list[tuple[str, str]]) -> list[ClientConnection]:
    dialect = DIALECTS[target.dialect]
    gate = asyncio.Semaphore(OPENING_AT_ONCE)

    async def one(url: str, credential: str) -> ClientConnection:
        async with gate:
            socket = await open_socket(url, dialect, credential, offer_compression=True)
            await dialect.subscribe(socket, target.room)
            return socket

    return list(await asyncio.gather(*(one(url, credential) for url, credential in endpoints)))


async def _settled_rss(pids: list[int]) -> int:
    """The servers' RSS once it stops moving (or after ``SETTLE_MAX_SECONDS``)."""
    previous = resident_bytes(pids)
    for _ in range(int(SETTLE_MAX_SECONDS / SETTLE_POLL_SECONDS)):
        await asyncio.sleep(SETTLE_POLL_SECONDS)
        current = resident_bytes(pids)
        if abs(current - previous) <= SETTLE_TOLERANCE * previous:
            return current
        previous = current
    return previous


async def _close(sockets: list[ClientConnection]) -> None:
    await asyncio.gather(*(socket.close() for socket in sockets))


async def _footprint(start: TargetStarter, workdir: Path, size: Size) -> Footprint:
    workdir.mkdir()
    async with start(workdir, 1, size.warmup + size.sockets) as target:
        endpoints = target.receiver_endpoints(size.warmup + size.sockets)
        warm = await _open(target, endpoints[: size.warmup])
        before = await _settled_rss(target.pids)
        measured = await _open(target, endpoints[size.warmup :])
        after = await _settled_rss(target.pids)
        await _close(warm + measured)
    return Footprint(size.sockets, before, after)


def _tables(footprints: dict[str, Footprint]) -> list[Table]:
    figures = Table(
        "Idle sockets, one instance",
        ["target", "sockets", "RSS before MiB", "RSS after MiB", "KiB per socket"],
    )
    for name, footprint in footprints.items():
        figures.add(
            name,
            footprint.sockets,
            footprint.before / 2**20,
            footprint.after / 2**20,
            footprint.per_socket / 2**10,
        )
    ours, floors = footprints[PARLEY].per_socket / 2**10, footprints[FLOOR].per_socket / 2**10
    share = ratio(ours, floors)
    targets = Table(
        "Idle sockets target", ["target", "Parley", "reference", "ratio", "required", "met"]
    )
    met = "yes" if share <= REQUIRED_RATIO else "no"  # NaN compares false: "no"
    targets.add("KiB per socket vs floor", ours, floors, share, f"≤ {REQUIRED_RATIO}x", met)
    return [figures, targets]


async def run(workdir: Path, smoke: bool) -> list[Table]:
    raise_open_files_limit()
    size = SMOKE if smoke else FULL
    footprints = {
        name: await _footprint(STARTERS[name], workdir / name.split()[0], size)
        for name in (PARLEY, FLOOR)
    }
    return _tables(footprints)


if __name__ == "__main__":
    run_scenario(run, "Idle sockets: resident memory per subscribed socket, against the floor")
