"""History: a page of a room's messages through the REST API while the room grows from
10,000 to 1,000,000 messages: the newest 50, and the 50 before a seq deep in the past. The
figures at 1,000,000 are compared with the same room's at 10,000.

One ``parley serve`` instance and one client on a kept-alive connection, requests one after
the other. The room is filled directly in SQL (fast, and the rows are what a send stores);
the same page query run on its own through asyncpg shows how much of the time is the
database's.

The client is aiohttp's: client and server share this machine's two cores, so the client's
CPU is in every latency measured, and httpx spends about four times as much per request
(1.35 to 1.47 ms against 0.26 to 0.37 ms, measured side by side on ``/healthz``). The
client's CPU per request is in the tables, so what it adds stays visible.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg

from bench.support.meters import CpuMeter
from bench.support.parley import accounts, new_room, parley_cluster
from bench.support.runner import run_scenario
from bench.support.stats import Latencies, ratio
from bench.support.table import Table

__all__ = ["run"]

PAGE_SIZE = 50
P99_CEILING_MS = 5.0  # at the largest room
GROWTH_CEILING = 1.5  # the largest room's p99 over the same page's p99 at the smallest

# What Parley's MessagePages.before runs (a page with its senders, none unless the reader is
# a member), one row more than the page to tell whether there is more.
_PAGE = """
SELECT messages.id, messages.room_id, messages.seq, messages.kind, messages.body,
       messages.attachment, messages.client_id, messages.created_at, messages.edited_at,
       messages.deleted_at, users.id, users.username, users.display_name
FROM messages LEFT OUTER JOIN users ON users.id = messages.sender_id
WHERE messages.room_id = $1
  AND EXISTS (SELECT * FROM memberships WHERE room_id = $1 AND user_id = $3) {bound}
ORDER BY messages.seq DESC LIMIT $2
"""
NEWEST = _PAGE.format(bound="")
BEFORE = _PAGE.format(bound="AND messages.seq < $4")

# Rows as a send stores them: a text message with its sender and client id, one a second.
FILL = """
INSERT INTO messages (id, room_id, seq, kind, sender_id, body, client_id, created_at)
SELECT gen_random_uuid(), $1, seq, 'text', $2,
       'Message ' || seq || ' of a long history, about as long as a line of chat usually is.',
       'seed-' || seq, now() - make_interval(secs => $4 - seq)
FROM generate_series($3::int + 1, $4::int) AS seq
"""


@dataclass(frozen=True, slots=True)
class Size:
    messages: int
    requests: int
    warmup: int


def sizes(*, smoke: bool) -> list[Size]:
    if smoke:
        return [Size(200, requests=20, warmup=5), Size(2_000, requests=20, warmup=5)]
    return [Size(10_000, requests=500, warmup=50), Size(1_000_000, requests=500, warmup=50)]


@dataclass(frozen=True, slots=True)
class Page:
    kind: str  # "newest" or "deep": the rows compared across room sizes
    before_seq: int | None

    @classmethod
    def both(cls, last_seq: int) -> list[Page]:
        return [cls("newest", None), cls("deep", last_seq // 2)]

    @property
    def name(self) -> str:
        if self.before_seq is None:
            return f"newest {PAGE_SIZE}"
        return f"{PAGE_SIZE} before seq {self.before_seq:,}"


@dataclass(frozen=True, slots=True)
class Measured:
    room_messages: int
    page: Page
    parley: Latencies
    parley_cpu_micros: float  # of the server process, per request
    client_cpu_micros: float  # of this process (the HTTP client), per request
    sql: Latencies


async def fill(connection: asyncpg.Connection, room_id: str, sender_id: str, up_to: int) -> None:
    """Messages up to seq ``up_to`` in the room, its last_seq moved along in the same
    transaction; then the statistics and visibility map that autovacuum would leave."""
    async with connection.transaction():
        last_seq = await connection.fetchval(
            "SELECT last_seq FROM rooms WHERE id = $1 FOR UPDATE", room_id
        )
        await connection.execute(FILL, room_id, sender_id, last_seq, up_to)
        await connection.execute("UPDATE rooms SET last_seq = $2 WHERE id = $1", room_id, up_to)
    await connection.execute("VACUUM (ANALYZE) messages")


async def warm_up(call: Callable[[], Awaitable[object]], times: int) -> None:
    for _ in range(times):
        await call()


async def timed(call: Callable[[], Awaitable[object]], times: int) -> Latencies:
    """``times`` calls, one after the other, each timed."""
    seconds = []
    for _ in range(times):
        started = time.perf_counter()
        await call()
        seconds.append(time.perf_counter() - started)
    return Latencies.of_seconds(seconds)


@dataclass(frozen=True, slots=True)
class Reader:
    """One member reading one room: through Parley's API, and straight from the database."""

    client: aiohttp.ClientSession
    connection: asyncpg.Connection
    room_id: str
    member_id: str
    server: CpuMeter

    async def measure(self, page: Page, size: Size) -> Measured:
        params = {} if page.before_seq is None else {"before_seq": page.before_seq}
        path = f"/api/rooms/{self.room_id}/messages"
        async with self.client.get(path, params=params, raise_for_status=True) as first:
            items = (await first.json())["items"]
            assert len(items) == PAGE_SIZE, items

        async def rest() -> None:
            await self.get(path, params)

        if page.before_seq is None:
            statement = await self.connection.prepare(NEWEST)
            arguments: tuple[object, ...] = (self.room_id, PAGE_SIZE + 1, self.member_id)
        else:
            statement = await self.connection.prepare(BEFORE)
            arguments = (self.room_id, PAGE_SIZE + 1, self.member_id, page.before_seq)

        async def sql() -> None:
            await statement.fetch(*arguments)

        await warm_up(rest, size.warmup)
        parley, server_micros, client_micros = await self.timed_with_cpu(rest, size.requests)
        await warm_up(sql, size.warmup)
        return Measured(
            size.messages,
            page,
            parley,
            server_micros,
            client_micros,
            await timed(sql, size.requests),
        )

    async def reference(self, path: str, size: Size) -> Reference:
        """A request that reads no history, for what any request costs on this server."""

        async def get() -> None:
            await self.get(path, {})

        await warm_up(get, size.warmup)
        return Reference(path, *await self.timed_with_cpu(get, size.requests))

    async def get(self, path: str, params: dict[str, int]) -> None:
        """One request, its body read to the end, as a real client would."""
        async with self.client.get(path, params=params, raise_for_status=True) as response:
            await response.read()

    async def timed_with_cpu(
        self, call: Callable[[], Awaitable[object]], times: int
    ) -> tuple[Latencies, float, float]:
        """``timed``, with the server's and the client's CPU µs per call: one client and
        one server share this machine's cores, so the latency holds both."""
        self.server.start()
        client_started = time.process_time()
        latencies = await timed(call, times)
        client_micros = (time.process_time() - client_started) / times * 1e6
        return latencies, self.server.stop() / times * 1e6, client_micros


@dataclass(frozen=True, slots=True)
class Reference:
    path: str
    latencies: Latencies
    server_cpu_micros: float
    client_cpu_micros: float


# Requests that read no history: /healthz touches nothing, /api/users/me authenticates and
# reads one row. What they cost is the floor under any page of history on this server.
REFERENCES = ["/healthz", "/api/users/me"]


async def measure(workdir: Path, *, smoke: bool) -> tuple[list[Measured], list[Reference]]:
    measured: list[Measured] = []
    references: list[Reference] = []
    async with parley_cluster(workdir, 1) as cluster:
        base_url = cluster.url(0)
        (member,) = await accounts(base_url, 1)
        room_id = str((await new_room(base_url, member, "history"))["id"])
        process = cluster.instances[0].process
        assert process is not None, "the cluster is started"
        dsn = cluster.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
        connection = await asyncpg.connect(dsn)
        try:
            async with aiohttp.ClientSession(base_url, headers=member.headers) as client:
                reader = Reader(client, connection, room_id, member.id, CpuMeter([process.pid]))
                for size in sizes(smoke=smoke):
                    await fill(connection, room_id, member.id, size.messages)
                    measured.extend(
                        [await reader.measure(p, size) for p in Page.both(size.messages)]
                    )
                references.extend([await reader.reference(path, size) for path in REFERENCES])
        finally:
            await connection.close()
    return measured, references


def reference_table(references: list[Reference]) -> Table:
    result = Table(
        "Requests that read no history, on the same server (the floor under any page)",
        ["request", "requests", "p50 ms", "p99 ms", "server CPU µs/req", "client CPU µs/req"],
    )
    for reference in references:
        latencies = reference.latencies
        result.add(
            f"GET {reference.path}",
            latencies.count,
            latencies.p50,
            latencies.p99,
            reference.server_cpu_micros,
            reference.client_cpu_micros,
        )
    return result


def table(measured: list[Measured]) -> Table:
    smallest = min(row.room_messages for row in measured)
    largest = max(row.room_messages for row in measured)
    baseline = {row.page.kind: row.parley.p99 for row in measured if row.room_messages == smallest}
    result = Table(
        f"History through the REST API: a page of {PAGE_SIZE}, one client, sequential requests",
        [
            "room messages",
            "page",
            "requests",
            "Parley p50 ms",
            "Parley p99 ms",
            "server CPU µs/req",
            "client CPU µs/req",
            "SQL alone p50 ms",
            "SQL alone p99 ms",
            f"p99 ÷ same page at {smallest:,}",
            "target",
            "met",
        ],
    )
    for row in measured:
        growth = ratio(row.parley.p99, baseline[row.page.kind])
        if row.room_messages == largest:
            target = f"p99 ≤ {P99_CEILING_MS:g} ms and ≤ {GROWTH_CEILING:g}x at {smallest:,}"
            met = "yes" if row.parley.p99 <= P99_CEILING_MS and growth <= GROWTH_CEILING else "no"
        else:
            target, met = "(baseline)", "-"
        result.add(
            row.room_messages,
            row.page.name,
            row.parley.count,
            row.parley.p50,
            row.parley.p99,
            row.parley_cpu_micros,
            row.client_cpu_micros,
            row.sql.p50,
            row.sql.p99,
            growth,
            target,
            met,
        )
    return result


async def run(workdir: Path, smoke: bool) -> list[Table]:
    measured, references = await measure(workdir, smoke=smoke)
    return [table(measured), reference_table(references)]


if __name__ == "__main__":
    run_scenario(run, "History: REST page latency in a room of 10,000 and of 1,000,000 messages")
