"""Faults under live traffic: the pub/sub connection cut alone, PostgreSQL connections killed."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg
import httpx
import redis.asyncio as redis

from tests.support.factories import Account, create_account, create_room
from tests.support.processes import Cluster, RedisServer
from tests.support.ws import WsClient


def report(text: str) -> None:
    """Recovery figures, printed for the run's log (CI shows them with -s or on failure)."""
    print(f"\n{text}")  # noqa: T201


def _database_name(postgres_url: str) -> str:
    return postgres_url.rsplit("/", 1)[1]


async def test_cutting_pubsub_alone_loses_nothing(
    postgres_url: str, private_redis: RedisServer, tmp_path: Path
) -> None:
    cluster = Cluster(postgres_url, private_redis.url, tmp_path)
    await cluster.start(2)
    try:
        async with httpx.AsyncClient(base_url=cluster.url(0), timeout=30) as api:
            reader, writer = await create_account(api), await create_account(api)
            room_id = (await create_room(api, writer))["id"]
            await api.post(f"/api/rooms/{room_id}/join", headers=reader.headers)
            socket = await WsClient.authenticated(cluster.url(1), reader.access_token)
            await socket.subscribe(room_id, since_seq=0)
            sender = await WsClient.authenticated(cluster.url(0), writer.access_token)
            admin = redis.Redis.from_url(private_redis.url)
            started = time.monotonic()
            for n in range(30):
                if n == 10:
                    killed = await admin.client_kill_filter(_type="pubsub", skipme=False)
                    assert killed == 2  # both instances' listeners
                await sender.send(
                    {"type": "send", "room_id": room_id, "body": f"m{n}", "client_id": f"c{n}"}
                )
                await sender.recv_type("ack")
            received = await socket.messages(room_id, 31, within=30)
            elapsed = time.monotonic() - started
            report(f"pub/sub cut: all 30 delivered {elapsed:.2f}s after the first send")
            assert [m["seq"] for m in received] == list(range(1, 32))
            await admin.aclose()
    finally:
        await cluster.close()


async def test_killed_database_connections_answer_503_then_recover(
    one_instance: Cluster, postgres_url: str
) -> None:
    database = _database_name(postgres_url)
    async with httpx.AsyncClient(base_url=one_instance.url(0), timeout=30) as api:
        account = await create_account(api)
        room_id = (await create_room(api, account))["id"]
        url = f"/api/rooms/{room_id}/messages"
        admin = await _admin_connection(postgres_url)
        statuses: list[int] = []
        bodies: list[str] = []
        recovered_after = None
        started = time.monotonic()
        for n in range(60):
            if n in {10, 11, 12}:
                await _terminate_backends(admin, database)
            response = await api.post(
                url, json={"body": f"m{n}", "client_id": f"c{n}"}, headers=account.headers
            )
            statuses.append(response.status_code)
            if response.status_code == 201:
                bodies.append(f"m{n}")
                if n > 12 and recovered_after is None:
                    recovered_after = time.monotonic() - started
            else:
                # An outage is the client's cue to retry, never a server fault.
                assert response.status_code == 503
                assert response.json()["error"] == "unavailable"
            await asyncio.sleep(0.02)
        await admin.close()
        report(f"pg_terminate_backend: {sorted(set(statuses))}, recovered after {recovered_after}")
        assert statuses[-20:] == [201] * 20  # service resumed by itself
        await _assert_stored_exactly(api, account, room_id, bodies)


async def test_killed_database_connections_fail_socket_sends_clearly_then_recover(
    one_instance: Cluster, postgres_url: str
) -> None:
    """A socket's send runs its one statement outside any session (db/statements.py): a dead
    connection must still give an ``unavailable`` error frame, be dropped from the pool, and
    leave nothing half-written."""
    database = _database_name(postgres_url)
    async with httpx.AsyncClient(base_url=one_instance.url(0), timeout=30) as api:
        account = await create_account(api)
        room_id = (await create_room(api, account))["id"]
        socket = await WsClient.authenticated(one_instance.url(0), account.access_token)
        admin = await _admin_connection(postgres_url)
        answers: list[str] = []
        acknowledged: list[str] = []
        for n in range(60):
            if n in {10, 11, 12}:
                await _terminate_backends(admin, database)
            client_id = f"c{n}"
            await socket.send(
                {"type": "send", "room_id": room_id, "body": f"m{n}", "client_id": client_id}
            )
            answer = await socket.recv_type("ack", "error")
            answers.append(answer["type"] if answer["type"] == "ack" else answer["code"])
            if answer["type"] == "ack":
                assert answer["client_id"] == client_id
                acknowledged.append(f"m{n}")
            else:
                assert answer["code"] == "unavailable", answer
                assert answer["ref"] == client_id
            await asyncio.sleep(0.02)
        await admin.close()
        report(f"socket sends with killed connections: {answers.count('unavailable')} refused")
        assert "unavailable" in answers  # the kills were felt
        assert answers[-20:] == ["ack"] * 20  # service resumed by itself
        await _assert_stored_exactly(api, account, room_id, acknowledged)


async def test_a_socket_that_authenticates_while_the_database_is_away_is_told_to_retry(
    one_instance: Cluster, postgres_url: str
) -> None:
    """The account cannot be read: the socket is closed with 1013 (try again), not dropped
    without a close frame, and authenticates once the database is back."""
    database = _database_name(postgres_url)
    async with httpx.AsyncClient(base_url=one_instance.url(0), timeout=30) as api:
        account = await create_account(api)
    admin = await _admin_connection(postgres_url)
    try:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        await _terminate_backends(admin, database)
        socket = await WsClient.open(one_instance.url(0))
        await socket.send({"type": "auth", "token": account.access_token})
        assert await socket.closed_with() == 1013
    finally:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        await admin.close()
    socket = await WsClient.authenticated(one_instance.url(0), account.access_token)
    await socket.send({"type": "ping"})
    assert (await socket.recv_type("pong"))["type"] == "pong"


async def _assert_stored_exactly(
    api: httpx.AsyncClient, account: Account, room_id: str, bodies: list[str]
) -> None:
    """Nothing half-written: exactly the acknowledged messages exist, in seq order."""
    url = f"/api/rooms/{room_id}/messages?limit=200"
    history = (await api.get(url, headers=account.headers)).json()["items"]
    assert [m["body"] for m in history] == bodies
    assert [m["seq"] for m in history] == list(range(1, len(bodies) + 1))


async def _admin_connection(postgres_url: str) -> asyncpg.Connection:
    return await asyncpg.connect(
        postgres_url.replace("+asyncpg", "").rsplit("/", 1)[0] + "/postgres"
    )


async def _terminate_backends(admin: asyncpg.Connection, database: str) -> None:
    await admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = $1 AND pid <> pg_backend_pid()",
        database,
    )
