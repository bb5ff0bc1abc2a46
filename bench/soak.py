"""Load and soak: 2,000 authenticated sockets over two instances, held for ten minutes under
steady traffic. Memory per instance stays flat, and nothing is lost.

A benchmark, not a test: its smoke size only checks that the harness still runs.
``BENCH_SOAK_SECONDS`` sets how long the traffic lasts: 600 s by default, 10 s at smoke size.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from bench.soak_socket import SoakSocket
from bench.soak_timeline import Sample, Timeline
from bench.soak_traffic import ACK_TIMEOUT_SECONDS, Traffic
from bench.support.parley import Account, accounts, join, new_room, parley_cluster
from bench.support.runner import run_scenario
from bench.support.spawn import raise_open_files_limit
from bench.support.table import Table

__all__ = ["run"]

MIB = 2**20
INSTANCES = 2
FLAT_GROWTH = 0.10  # memory is flat when it grows less than this after the warm-up
OPENING_CONCURRENCY = 50  # sockets being opened at once
DRAIN_SECONDS = 30  # after the last ack, how long the last deliveries may take


@dataclass(frozen=True)
class SoakSize:
    users: int
    sockets_per_user: int
    rooms: int
    rate: float  # messages per second, over all rooms
    seconds: float

    @property
    def sockets(self) -> int:
        return self.users * self.sockets_per_user

    @property
    def warmup(self) -> float:
        """Memory growth is measured after this: caches and pools fill in the first minute."""
        return min(60.0, self.seconds / 5)

    @property
    def sample_every(self) -> float:
        return min(30.0, max(1.0, self.seconds / 20))


# Accounts are few (password hashing is slow on purpose); each one holds many sockets.
FULL = SoakSize(users=40, sockets_per_user=50, rooms=20, rate=20, seconds=600)
SMOKE = SoakSize(users=4, sockets_per_user=5, rooms=5, rate=10, seconds=10)


def soak_size(*, smoke: bool) -> SoakSize:
    size = SMOKE if smoke else FULL
    seconds = os.environ.get("BENCH_SOAK_SECONDS")
    return replace(size, seconds=float(seconds)) if seconds else size


async def run(workdir: Path, smoke: bool) -> list[Table]:
    size = soak_size(smoke=smoke)
    if size.sockets % (INSTANCES * size.rooms):
        raise ValueError("the sockets must split evenly over the instances and the rooms")
    raise_open_files_limit()  # before the instances start: they inherit it
    # Tokens must outlive the soak, or every socket closes with 4001 when they expire.
    token_ttl = str(min(86_400, int(size.seconds) + 3_600))
    async with parley_cluster(
        workdir, INSTANCES, extra_env={"PARLEY_ACCESS_TOKEN_TTL": token_ttl}
    ) as cluster:
        urls = [cluster.url(index) for index in range(INSTANCES)]
        users = await _users(urls, size.users)
        rooms = await _rooms(urls[0], users, size.rooms)
        sockets = await _open_sockets(urls, users, rooms, size)
        try:
            # Room r's sender is its first socket on instance r % 2: both instances send, and
            # every room's messages cross from one instance to the other.
            senders = [sockets[r + (r % INSTANCES) * size.rooms] for r in range(size.rooms)]
            traffic = Traffic(senders, size.rate)
            pids = [_pid(instance.process) for instance in cluster.instances]
            timeline = Timeline(pids, sockets, traffic)
            timeline.start()
            recording = asyncio.create_task(timeline.record(size.sample_every, size.seconds))
            await traffic.run(size.seconds)
            await recording
            last_seqs = await _last_seqs(urls[0], users[0], rooms)
            await _drain(sockets, last_seqs)
            timeline.sample()
            verdict = _verdict(size, timeline, sockets, last_seqs)
        finally:
            await asyncio.gather(*(socket.close() for socket in sockets))
    return [_timeline_table(size, timeline.samples), verdict]


def _pid(process: asyncio.subprocess.Process | None) -> int:
    assert process is not None, "the cluster has started its instances"
    return process.pid


async def _users(urls: Sequence[str], count: int) -> list[Account]:
    """Accounts made on every instance at once: hashing passwords is the slow part."""
    shares = [count // len(urls) + (index < count % len(urls)) for index in range(len(urls))]
    made = await asyncio.gather(
        *(accounts(url, share) for url, share in zip(urls, shares, strict=True))
    )
    return [account for share in made for account in share]


async def _rooms(url: str, users: Sequence[Account], count: int) -> list[str]:
    """``count`` public rooms with every user a member, so any socket may watch any room."""

    async def one(index: int) -> str:
        owner = users[index % len(users)]
        room = await new_room(url, owner, f"soak-{index}")
        await join(url, room, [user for user in users if user is not owner])
        return str(room["id"])

    return list(await asyncio.gather(*(one(index) for index in range(count))))


async def _open_sockets(
    urls: Sequence[str], users: Sequence[Account], rooms: Sequence[str], size: SoakSize
) -> list[SoakSocket]:
    """Socket i belongs to user i // sockets_per_user, watches room i % rooms and connects to
    instance (i // rooms) % 2: every room has as many sockets on each instance."""
    gate = asyncio.Semaphore(OPENING_CONCURRENCY)

    async def one(index: int) -> SoakSocket:
        user = users[index // size.sockets_per_user]
        url = urls[(index // size.rooms) % len(urls)]
        async with gate:
            return await SoakSocket.open(url, user.access_token, rooms[index % size.rooms])

    return list(await asyncio.gather(*(one(index) for index in range(size.sockets))))


async def _last_seqs(url: str, member: Account, rooms: Sequence[str]) -> dict[str, int]:
    """Each room's newest seq, as the database has it: what every socket must have reached."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def one(room_id: str) -> int:
            response = await client.get(f"/api/rooms/{room_id}", headers=member.headers)
            response.raise_for_status()
            last_seq: int = response.json()["last_seq"]
            return last_seq

        return dict(zip(rooms, await asyncio.gather(*(one(room) for room in rooms)), strict=True))


async def _drain(sockets: Sequence[SoakSocket], last_seqs: dict[str, int]) -> None:
    """Wait until every open socket has every message, or ``DRAIN_SECONDS`` passed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DRAIN_SECONDS
    while loop.time() < deadline:
        behind = [
            socket
            for socket in sockets
            if socket.is_open and socket.delivery.lost(last_seqs[socket.room_id])
        ]
        if not behind:
            return
        await asyncio.sleep(0.25)


def _timeline_table(size: SoakSize, samples: Sequence[Sample]) -> Table:
    table = Table(
        f"Soak: {size.sockets:,} sockets over {INSTANCES} instances, {size.rate:g} msg/s in "
        f"{size.rooms} rooms for {size.seconds:g} s (over time)",
        [
            "t (s)",
            *(f"RSS instance {index + 1} (MiB)" for index in range(INSTANCES)),
            "sockets open",
            "messages acked",
            "deliveries",
        ],
    )
    for sample in samples:
        table.add(
            f"{sample.elapsed:.0f}",
            *(resident / MIB for resident in sample.resident),
            sample.sockets_open,
            sample.acked,
            sample.deliveries,
        )
    return table


def _verdict(
    size: SoakSize, timeline: Timeline, sockets: Sequence[SoakSocket], last_seqs: dict[str, int]
) -> Table:
    traffic = timeline.traffic
    table = Table(
        f"Soak: {size.sockets:,} sockets for {size.seconds:g} s, verdict",
        ["measure", "value", "target", "met"],
    )

    def row(measure: str, value: object, target: str, *, met: bool | None = None) -> None:
        table.add(measure, value, target, "-" if met is None else ("yes" if met else "no"))

    def none_of(measure: str, count: int) -> None:
        row(measure, count, "0", met=count == 0)

    expected = sum(socket.delivery.expected(last_seqs[socket.room_id]) for socket in sockets)
    received = sum(socket.delivery.received for socket in sockets)
    row("sockets opened", len(sockets), f"{size.sockets:,}", met=len(sockets) == size.sockets)
    row("messages sent", traffic.sent, f"{round(size.seconds * size.rate):,}")
    row("messages acked", traffic.acked, "all sent", met=traffic.acked == traffic.sent)
    none_of("sends refused (error frame or socket closed)", traffic.refused)
    none_of(f"sends unanswered (no ack in {ACK_TIMEOUT_SECONDS} s)", traffic.unanswered)
    row("deliveries expected", expected, "-")
    row("deliveries received", received, "= expected", met=received == expected)
    none_of("lost", sum(socket.delivery.lost(last_seqs[socket.room_id]) for socket in sockets))
    none_of("duplicates", sum(socket.delivery.duplicates for socket in sockets))
    none_of("out of order", sum(socket.delivery.out_of_order for socket in sockets))
    none_of("error frames", sum(socket.error_frames for socket in sockets))
    dropped = [socket for socket in sockets if socket.dropped]
    codes = Counter(socket.connection.close_code for socket in dropped)
    detail = ", ".join(f"{count} x {code}" for code, count in sorted(codes.items(), key=str))
    row("sockets dropped (close codes)", f"{len(dropped)} {detail}".strip(), "0", met=not dropped)
    settled, last = timeline.settled(size.warmup), timeline.samples[-1]
    for index in range(INSTANCES):
        before, after = settled.resident[index], last.resident[index]
        growth = (after - before) / before
        row(
            f"RSS growth, instance {index + 1} ({settled.elapsed:.0f} s to {last.elapsed:.0f} s)",
            f"{before / MIB:.0f} → {after / MIB:.0f} MiB: "
            f"{(after - before) / MIB:+.1f} MiB ({growth:+.1%})",
            f"flat (< {FLAT_GROWTH:.0%})",
            met=growth < FLAT_GROWTH,
        )
    return table


if __name__ == "__main__":
    run_scenario(
        run,
        "Soak: 2,000 sockets over two instances for ten minutes of steady traffic; "
        "memory stays flat and nothing is lost",
    )
