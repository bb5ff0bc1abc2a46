"""Hostile clients against a real ``parley serve``: each attack is judged as the server feels
it, by its resident memory in MB (``/proc/<pid>/status``), by what it answers, and by when
it lets go of a connection.

The fixtures give a test one instance on PostgreSQL and Redis with short timeouts
(``target``), a client of its API (``api``), and a member of a room (``member``). Attacks
are grouped by what they aim at: WebSocket control frames, request bodies, slow senders,
and floods of what each account may do (registrations from many addresses, typing), judged
by counts of 429s and of frames fanned out, and a sign-in's latency under the flood as a ratio
to an unloaded sign-in measured in the same test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from tests.cluster.conftest import SHARED_REDIS_URL
from tests.support.factories import Account, create_account, create_room
from tests.support.processes import Cluster
from tests.support.raw_clients import (
    RawConnection,
    RawResponse,
    ping_frame,
    process_rss_mb,
    text_frame,
)
from tests.support.ws import WsClient

pytestmark = pytest.mark.cluster

MIB = 1024 * 1024
# Short, so that a test sees the server give up on a slow client within seconds.
HEADER_TIMEOUT = 2
BODY_TIMEOUT = 2
HOSTILE_ENV = {
    "PARLEY_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
    "PARLEY_BODY_TIMEOUT": str(BODY_TIMEOUT),
}
# What the server may take on top of its resting memory while a test attacks it.
MEMORY_BOUND_MB = 40
# How late after its timeout the server may cut a slow client off (a loaded machine).
CUT_OFF_MARGIN = 5


@pytest.fixture(autouse=True)
async def _close_raw_connections() -> AsyncIterator[None]:
    yield
    await RawConnection.close_all()


@dataclass
class Target:
    """One ``parley serve`` process under attack."""

    cluster: Cluster

    @property
    def url(self) -> str:
        return self.cluster.url(0)

    @property
    def pid(self) -> int:
        process = self.cluster.instances[0].process
        assert process is not None
        return process.pid

    def rss_mb(self) -> float:
        return process_rss_mb(self.pid)

    def log(self) -> str:
        return self.cluster.instances[0].log.read_text()


@dataclass
class Member:
    account: Account
    room_id: str


@pytest.fixture
async def target(postgres_url: str, tmp_path: Path) -> AsyncIterator[Target]:
    cluster = Cluster(postgres_url, SHARED_REDIS_URL, tmp_path, extra_env=dict(HOSTILE_ENV))
    await cluster.start(1)
    try:
        yield Target(cluster)
    finally:
        await cluster.close()


@pytest.fixture
async def api(target: Target) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=target.url, timeout=30) as client:
        yield client


@pytest.fixture
async def member(api: httpx.AsyncClient) -> Member:
    account = await create_account(api)
    room = await create_room(api, account)
    return Member(account, room["id"])


class PeakMemory:
    """The highest resident memory a process reached while the block ran, above where it
    started."""

    def __init__(self, target: Target) -> None:
        self._target = target
        self.start_mb = target.rss_mb()
        self.peak_mb = self.start_mb

    @property
    def growth_mb(self) -> float:
        return self.peak_mb - self.start_mb

    async def _sample(self) -> None:
        while True:
            self.peak_mb = max(self.peak_mb, self._target.rss_mb())
            await asyncio.sleep(0.02)

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[PeakMemory]:
        sampler = asyncio.create_task(self._sample())
        try:
            yield self
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
            self.peak_mb = max(self.peak_mb, self._target.rss_mb())


def report(text: str) -> None:
    """Figures for the run's log (shown with -s or on failure)."""
    print(f"\n{text}")  # noqa: T201


T = TypeVar("T")


async def all_of(tasks: list[Awaitable[T]]) -> list[T]:
    return list(await asyncio.gather(*tasks))


# --- WebSocket control frames ----------------------------------------------------------------

FLOOD_SOCKETS = 5
FLOOD_SECONDS = 5
# A thousand pings of the largest payload a control frame may carry, sent as one write.
PINGS = ping_frame() * 1000


async def _open_socket(target: Target, token: str | None) -> RawConnection:
    connection = await RawConnection.open(target.url, receive_buffer=4096)
    handshake = await connection.upgrade_to_websocket()
    assert handshake.status == 101, handshake
    if token is not None:
        assert await connection.write(text_frame(json.dumps({"type": "auth", "token": token})))
        assert json.loads(await connection.frame_text())["type"] == "ready"
    connection.stop_reading()
    return connection


async def test_a_ping_flood_that_reads_no_pong_is_held_to_a_bound(
    target: Target, member: Member
) -> None:
    """Sockets, some before ``auth`` and some after it, send pings and never read: the
    server stops reading them rather than buffer a pong for each."""
    token = member.account.access_token
    sockets = [
        await _open_socket(target, token if index % 2 else None) for index in range(FLOOD_SOCKETS)
    ]
    async with PeakMemory(target).watching() as memory:
        sent = await all_of([socket.write_for(PINGS, FLOOD_SECONDS) for socket in sockets])
    report(
        f"ping flood: {sum(sent) / MIB:.0f} MB of pings sent on {FLOOD_SOCKETS} sockets, "
        f"server {memory.start_mb:.0f} MB -> peak {memory.peak_mb:.0f} MB"
    )
    assert memory.growth_mb < MEMORY_BOUND_MB


# --- request bodies ----------------------------------------------------------------------------


async def _post_streaming(
    target: Target,
    path: str,
    headers: dict[str, str],
    body: tuple[bytes, bytes],
    *,
    declared: int | None,
    seconds: float = 3,
) -> tuple[RawResponse, int]:
    """POST a body, its first part and then its second again and again for ``seconds`` (or
    until the server answers or stops reading), declaring ``declared`` bytes, or chunked
    when None. Returns the answer and the bytes sent."""
    connection = await RawConnection.open(target.url)
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: parley.test",
        *(f"{name}: {value}" for name, value in headers.items()),
        "Transfer-Encoding: chunked" if declared is None else f"Content-Length: {declared}",
    ]
    start, filler = body if declared is not None else (_chunk(body[0]), _chunk(body[1]))
    assert await connection.write(("\r\n".join(lines) + "\r\n\r\n").encode() + start)
    sending = asyncio.create_task(connection.write_for(filler, seconds))
    try:
        response = await connection.response(within=seconds + 10)
    finally:
        sent = await sending
        connection.close()
    return response, sent


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "multipart/form-data; boundary=B"}
# Bodies that stay valid as they grow: JSON with whitespace, a form field with its value.
JSON_BODY = (b"{", b" " * 64 * 1024)
FORM_BODY = (b'--B\r\nContent-Disposition: form-data; name="username"\r\n\r\n', b"a" * 64 * 1024)
FILE_BODY = (
    b'--B\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n\r\n',
    b"a" * 64 * 1024,
)


async def test_oversized_bodies_are_413_before_they_are_read(
    target: Target, member: Member
) -> None:
    upload_path = f"/api/rooms/{member.room_id}/uploads"
    upload_headers = {**FORM, **member.account.headers}
    async with PeakMemory(target).watching() as memory:
        answers = await all_of(
            [
                # Declared: refused on the Content-Length alone.
                _post_streaming(target, "/api/auth/login", JSON, JSON_BODY, declared=250 * MIB),
                _post_streaming(target, "/api/auth/login", JSON, JSON_BODY, declared=250 * MIB),
                _post_streaming(target, "/api/auth/token", FORM, FORM_BODY, declared=250 * MIB),
                # Chunked: counted as it arrives and cut off at the limit.
                _post_streaming(target, "/api/auth/register", JSON, JSON_BODY, declared=None),
                _post_streaming(target, "/api/auth/token", FORM, FORM_BODY, declared=None),
                # An upload's limit is its own (25 MiB here).
                _post_streaming(
                    target, upload_path, upload_headers, FILE_BODY, declared=None, seconds=8
                ),
            ]
        )
    report(
        f"oversized bodies: {sum(sent for _, sent in answers) / MIB:.0f} MB sent, "
        f"server {memory.start_mb:.0f} MB -> peak {memory.peak_mb:.0f} MB"
    )
    for response, _ in answers:
        assert response.status == 413, response
        assert json.loads(response.body)["error"] == "too_large"
    assert memory.growth_mb < MEMORY_BOUND_MB


# --- slow senders --------------------------------------------------------------------------------


async def _trickle(connection: RawConnection, data: bytes, every: float = 0.25) -> None:
    """Send ``data`` a byte at a time, until it is all sent or the server closes."""
    for byte in data:
        if not await connection.write(bytes([byte])):
            return
        await asyncio.sleep(every)


async def _cut_off_within(
    target: Target, head: bytes, trickled: bytes, seconds: float
) -> RawResponse | None:
    """Send ``head`` at once and ``trickled`` a byte at a time; the server's answer, or
    None when it closed without one. Fails unless it closed within ``seconds``."""
    connection = await RawConnection.open(target.url)
    assert await connection.write(head)
    trickling = asyncio.create_task(_trickle(connection, trickled))
    try:
        assert await connection.wait_closed(seconds), "the server kept a slow client"
    finally:
        trickling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await trickling
        connection.close()
    with contextlib.suppress(ConnectionError):
        return await connection.response(within=0)
    return None


async def test_trickling_headers_are_cut_off(target: Target) -> None:
    within = HEADER_TIMEOUT + CUT_OFF_MARGIN
    silent, trickling = await all_of(
        [
            # Connects and says nothing: closed without a word.
            _cut_off_within(target, b"", b"", within),
            # A header a byte at a time, never finished: 408.
            _cut_off_within(target, b"GET /healthz HTTP/1.1\r\n", b"X-Slow: " + b"a" * 200, within),
        ]
    )
    assert silent is None
    assert trickling is not None
    assert trickling.status == 408


async def test_trickling_bodies_and_uploads_are_cut_off(target: Target, member: Member) -> None:
    """A JSON body and fifteen uploads, a byte at a time: each is answered 408 and closed
    within the body timeout (an upload gets its minimum rate on top, which a trickle
    never earns)."""
    login = (
        b"POST /api/auth/login HTTP/1.1\r\nHost: parley.test\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    upload = (
        f"POST /api/rooms/{member.room_id}/uploads HTTP/1.1\r\nHost: parley.test\r\n"
        f"Authorization: Bearer {member.account.access_token}\r\n"
        "Content-Type: multipart/form-data; boundary=B\r\n"
        f"Content-Length: {10 * MIB}\r\n\r\n"
    ).encode()
    part = b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\n'
    within = BODY_TIMEOUT + CUT_OFF_MARGIN
    answers = await all_of(
        [
            _cut_off_within(target, login, b'{"username": "' + b"a" * 500, within),
            *(_cut_off_within(target, upload + part, b"a" * 500, within) for _ in range(15)),
        ]
    )
    for answer in answers:
        assert answer is not None
        assert answer.status == 408
        assert json.loads(answer.body)["error"] == "request_timeout"


# --- floods of what an account may do ---------------------------------------------------

# Sixteen clients, each from an address of its own (the whole of 127/8 is loopback on Linux),
# so that the per-address limit lets each register a few: the hashing bound is what is left.
# Unbounded, a sign-in would queue behind up to sixteen hashes, past the ratio asked; more
# flooders only make the test slower (forty took over two minutes with both cores busy).
FLOODERS = 16
ATTEMPTS_EACH = 8
REGISTRATIONS_PER_ADDRESS = 3
SIGN_INS_MEASURED = 5
# An unloaded sign-in is one argon2 verification; under the flood it shares the cores with one
# registration's hash at a time (about 2x). Unbounded, it queued behind dozens: 49x.
LOADED_SIGN_IN_RATIO = 5.0

TYPING_FRAMES = 5000
TYPING_ALLOWED = 5


async def _flood_registrations(base_url: str, address: str, attempts: int) -> list[int]:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    statuses = []
    started = time.time()
    async with httpx.AsyncClient(base_url=base_url, transport=transport, timeout=90) as client:
        for _ in range(attempts):
            answer = await client.post(
                "/api/auth/register",
                json={"username": f"flood_{uuid.uuid4().hex[:12]}", "password": "flood password"},
            )
            if answer.status_code == 429:
                # The hour from this address's first registration, less what has passed.
                waited = math.floor(time.time() - started)
                assert 3600 - waited <= int(answer.headers["retry-after"]) <= 3600, answer.headers
            statuses.append(answer.status_code)
    return statuses


async def _sign_in_seconds(client: httpx.AsyncClient, account: Account) -> float:
    body = {"username": account.username, "password": account.password}
    started = time.perf_counter()
    answer = await client.post("/api/auth/login", json=body)
    elapsed = time.perf_counter() - started
    assert answer.status_code == 200, answer.text
    return elapsed


async def _median_sign_in(client: httpx.AsyncClient, account: Account) -> float:
    return statistics.median(
        [await _sign_in_seconds(client, account) for _ in range(SIGN_INS_MEASURED)]
    )


@contextlib.asynccontextmanager
async def _limited_cluster(
    postgres_url: str, tmp_path: Path, size: int, limits: dict[str, str]
) -> AsyncIterator[Cluster]:
    """``size`` instances on PostgreSQL and Redis with rate limits on, and ``limits`` set."""
    environment = {"PARLEY_RATE_LIMITS": "on", **limits}
    cluster = Cluster(postgres_url, SHARED_REDIS_URL, tmp_path, extra_env=environment)
    await cluster.start(size)
    try:
        yield cluster
    finally:
        await cluster.close()


async def test_a_registration_flood_is_limited_and_sign_ins_stay_responsive(
    postgres_url: str, tmp_path: Path
) -> None:
    limit = {"PARLEY_RATE_LIMIT_REGISTER": f"{REGISTRATIONS_PER_ADDRESS}/hour"}
    async with (
        _limited_cluster(postgres_url, tmp_path, 1, limit) as cluster,
        httpx.AsyncClient(base_url=cluster.url(0), timeout=90) as client,
    ):
        account = await create_account(client)
        await _sign_in_seconds(client, account)  # warm: connections, caches
        unloaded = await _median_sign_in(client, account)

        flood = [
            asyncio.create_task(
                _flood_registrations(cluster.url(0), f"127.0.1.{index + 1}", ATTEMPTS_EACH)
            )
            for index in range(FLOODERS)
        ]
        await asyncio.sleep(1)  # the flood is in full swing
        loaded = await _median_sign_in(client, account)
        still_flooding = sum(not task.done() for task in flood)
        statuses = [status for each in await asyncio.gather(*flood) for status in each]

    created, refused = statuses.count(201), statuses.count(429)
    report(
        f"registration flood: {created} created, {refused} refused (429) of {len(statuses)}; "
        f"sign-in {unloaded * 1000:.0f} ms unloaded, {loaded * 1000:.0f} ms under the flood "
        f"({loaded / unloaded:.1f}x; {still_flooding} of {FLOODERS} flooders still running)"
    )
    assert still_flooding > 0  # the sign-ins were measured under the flood
    assert created == FLOODERS * REGISTRATIONS_PER_ADDRESS
    assert refused == FLOODERS * (ATTEMPTS_EACH - REGISTRATIONS_PER_ADDRESS)
    assert loaded <= LOADED_SIGN_IN_RATIO * unloaded


async def test_a_typing_flood_is_dropped_past_its_limit(postgres_url: str, tmp_path: Path) -> None:
    limit = {"PARLEY_RATE_LIMIT_TYPING": f"{TYPING_ALLOWED}/hour"}
    async with _limited_cluster(postgres_url, tmp_path, 2, limit) as cluster:
        async with httpx.AsyncClient(base_url=cluster.url(0), timeout=30) as client:
            typist, reader = await create_account(client), await create_account(client)
            room_id = (await create_room(client, typist))["id"]
            joined = await client.post(f"/api/rooms/{room_id}/join", headers=reader.headers)
            assert joined.status_code == 200
        listener = await WsClient.authenticated(cluster.url(1), reader.access_token)
        assert (await listener.subscribe(room_id))["type"] == "subscribed"
        flooder = await WsClient.authenticated(cluster.url(0), typist.access_token)

        started = time.perf_counter()
        for _ in range(TYPING_FRAMES):
            await flooder.send({"type": "typing", "room_id": room_id})
        await flooder.send({"type": "ping"})
        # Frames are handled in order: the pong comes after every typing frame, and nothing
        # before it (a typing over its limit is dropped silently, not answered).
        assert (await flooder.recv(within=60))["type"] == "pong"
        elapsed = time.perf_counter() - started

        fanned_out = 0
        try:
            while True:
                frame = await listener.recv(within=2)
                fanned_out += frame["type"] == "typing"
        except TimeoutError:
            pass
        report(
            f"typing flood: {TYPING_FRAMES} frames sent in {elapsed:.1f}s, "
            f"{fanned_out} fanned out to the other instance's listener"
        )
        assert fanned_out == TYPING_ALLOWED
        await listener.send({"type": "ping"})
        assert (await listener.recv_type("pong"))["type"] == "pong"  # still open
