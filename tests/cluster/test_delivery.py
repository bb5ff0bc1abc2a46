"""The delivery guarantee across two real instances: in order, no gap, no duplicate."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from tests.support.factories import Account, Json, create_account, create_room
from tests.support.processes import Cluster, RedisServer
from tests.support.ws import WsClient


async def _room_with_members(api: httpx.AsyncClient, count: int) -> tuple[str, list[Account]]:
    accounts = [await create_account(api) for _ in range(count)]
    room = await create_room(api, accounts[0])
    for account in accounts[1:]:
        joined = await api.post(f"/api/rooms/{room['id']}/join", headers=account.headers)
        assert joined.status_code == 200
    return str(room["id"]), accounts


async def _send_all(socket: WsClient, room_id: str, prefix: str, count: int) -> list[Json]:
    """Send ``count`` messages, one after the other's ack; return the acked messages."""
    acked = []
    for n in range(count):
        await socket.send(
            {
                "type": "send",
                "room_id": room_id,
                "body": f"{prefix}-{n}",
                "client_id": f"{prefix}-{n}",
            }
        )
        acked.append((await socket.recv_type("ack"))["message"])
    return acked


def _assert_exactly(seqs: list[int], first: int, last: int) -> None:
    assert seqs == list(range(first, last + 1)), f"expected {first}..{last}, got {seqs}"


async def test_a_message_sent_on_one_instance_reaches_the_other(
    cluster: Cluster, api: httpx.AsyncClient
) -> None:
    room_id, (alice, bob) = await _room_with_members(api, 2)
    alice_socket = await WsClient.authenticated(cluster.url(0), alice.access_token)
    bob_socket = await WsClient.authenticated(cluster.url(1), bob.access_token)
    await alice_socket.subscribe(room_id)
    await bob_socket.subscribe(room_id)
    [acked] = await _send_all(bob_socket, room_id, "b", 1)
    [received] = await alice_socket.messages(room_id, 1)
    assert received == acked
    await alice_socket.send({"type": "typing", "room_id": room_id})
    assert (await bob_socket.recv_type("typing"))["user"]["username"] == alice.username


async def test_concurrent_senders_on_both_instances_are_seen_in_one_order(
    cluster: Cluster, api: httpx.AsyncClient
) -> None:
    room_id, accounts = await _room_with_members(api, 8)
    senders, receivers = accounts[:4], accounts[4:]
    receiver_sockets = [
        await WsClient.authenticated(cluster.url(i % 2), account.access_token)
        for i, account in enumerate(receivers)
    ]
    for socket in receiver_sockets:
        await socket.subscribe(room_id, since_seq=0)
    sender_sockets = [
        await WsClient.authenticated(cluster.url(i % 2), account.access_token)
        for i, account in enumerate(senders)
    ]
    per_sender = 25
    acked = await asyncio.gather(
        *(_send_all(s, room_id, f"s{i}", per_sender) for i, s in enumerate(sender_sockets))
    )
    last_seq = max(m["seq"] for batch in acked for m in batch)
    assert last_seq == 7 + 4 * per_sender  # seven joins, then the messages
    for socket in receiver_sockets:
        received = await socket.messages(room_id, last_seq)
        _assert_exactly([m["seq"] for m in received], 1, last_seq)
        await socket.no_frame({"message"}, within=0.5)  # and nothing twice


async def test_a_reconnect_to_the_other_instance_resumes_exactly(
    cluster: Cluster, api: httpx.AsyncClient
) -> None:
    room_id, (reader, writer) = await _room_with_members(api, 2)
    writer_socket = await WsClient.authenticated(cluster.url(1), writer.access_token)
    reader_socket = await WsClient.authenticated(cluster.url(0), reader.access_token)
    await reader_socket.subscribe(room_id, since_seq=0)
    await _send_all(writer_socket, room_id, "before", 5)
    seen = await reader_socket.messages(room_id, 6)
    _assert_exactly([m["seq"] for m in seen], 1, 6)
    await reader_socket.close()

    await _send_all(writer_socket, room_id, "while-away", 7)
    back = await WsClient.authenticated(cluster.url(1), reader.access_token)
    await back.send({"type": "subscribe", "room_id": room_id, "since_seq": seen[-1]["seq"]})
    missed = await back.messages(room_id, 7)
    _assert_exactly([m["seq"] for m in missed], 7, 13)
    assert (await back.recv_type("subscribed"))["last_seq"] == 13
    await _send_all(writer_socket, room_id, "after", 2)
    _assert_exactly([m["seq"] for m in await back.messages(room_id, 2)], 14, 15)


async def test_a_killed_instance_loses_nothing(cluster: Cluster, api: httpx.AsyncClient) -> None:
    room_id, (reader, writer) = await _room_with_members(api, 2)
    async with httpx.AsyncClient(base_url=cluster.url(1), timeout=30) as survivor_api:
        writer_socket = await WsClient.authenticated(cluster.url(1), writer.access_token)
        reader_socket = await WsClient.authenticated(cluster.url(0), reader.access_token)
        await reader_socket.subscribe(room_id, since_seq=0)
        await _send_all(writer_socket, room_id, "before", 3)
        seen = await reader_socket.messages(room_id, 4)

        await cluster.kill(0)  # SIGKILL: no goodbye to anyone
        assert await reader_socket.closed_with() is None  # no close frame from the dead
        acked = await _send_all(writer_socket, room_id, "after-kill", 6)

        back = await WsClient.authenticated(cluster.url(1), reader.access_token)
        await back.send({"type": "subscribe", "room_id": room_id, "since_seq": seen[-1]["seq"]})
        missed = await back.messages(room_id, 6)
        assert missed == acked
        await back.no_frame({"message"})
        history = (
            await survivor_api.get(f"/api/rooms/{room_id}/messages", headers=reader.headers)
        ).json()["items"]
        _assert_exactly([m["seq"] for m in history], 1, 10)


async def test_presence_spans_instances_and_a_killed_instance_goes_offline(
    cluster: Cluster, api: httpx.AsyncClient
) -> None:
    room_id, (alice, bob) = await _room_with_members(api, 2)
    alice_socket = await WsClient.authenticated(cluster.url(1), alice.access_token)
    await alice_socket.subscribe(room_id)
    await WsClient.authenticated(cluster.url(0), bob.access_token)
    online = await alice_socket.presence_of(bob.username)
    assert online["status"] == "online"
    async with httpx.AsyncClient(base_url=cluster.url(1), timeout=30) as other_api:
        present = await other_api.get(f"/api/rooms/{room_id}/presence", headers=alice.headers)
        assert {u["username"] for u in present.json()} == {alice.username, bob.username}
        started = time.monotonic()
        await cluster.kill(0)
        offline = await alice_socket.presence_of(bob.username, within=40)
        assert offline["status"] == "offline"
        assert time.monotonic() - started < 30
        present = await other_api.get(f"/api/rooms/{room_id}/presence", headers=alice.headers)
        assert [u["username"] for u in present.json()] == [alice.username]


async def test_redis_restarted_under_a_live_cluster_loses_nothing(
    postgres_url: str, private_redis: RedisServer, tmp_path: Path
) -> None:
    cluster = Cluster(postgres_url, private_redis.url, tmp_path)
    await cluster.start(2)
    try:
        async with httpx.AsyncClient(base_url=cluster.url(0), timeout=30) as api:
            room_id, (reader_a, reader_b, writer) = await _room_with_members(api, 3)
            readers = [
                await WsClient.authenticated(cluster.url(0), reader_a.access_token),
                await WsClient.authenticated(cluster.url(1), reader_b.access_token),
            ]
            for socket in readers:
                await socket.subscribe(room_id, since_seq=0)
            writer_socket = await WsClient.authenticated(cluster.url(1), writer.access_token)
            await _send_all(writer_socket, room_id, "before", 5)

            await private_redis.kill()
            await _send_all(writer_socket, room_id, "redis-down", 5)  # still stored and acked
            started = time.monotonic()
            await private_redis.start()
            await _send_all(writer_socket, room_id, "after", 5)
            total = 2 + 15  # two joins, fifteen messages
            for socket in readers:
                received = await socket.messages(room_id, total, within=30)
                _assert_exactly([m["seq"] for m in received], 1, total)
            print(f"\nredis restart: all readers complete {time.monotonic() - started:.2f}s after")  # noqa: T201
    finally:
        await cluster.close()
