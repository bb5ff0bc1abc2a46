"""The WebSocket protocol on one instance: every frame type and every error path."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from parley.api import websocket as websocket_endpoint
from parley.core.settings import Settings
from parley.security.tokens import AccessTokenCodec
from tests.conftest import TEST_SECRET_KEY
from tests.support.factories import Account, create_account, create_room, post_message
from tests.support.servers import serve_in_process
from tests.support.ws import WsClient


async def _member_socket(
    client: httpx.AsyncClient, server_url: str
) -> tuple[Account, WsClient, str]:
    account = await create_account(client)
    room = await create_room(client, account)
    socket = await WsClient.authenticated(server_url, account.access_token)
    return account, socket, room["id"]


# --- authentication -----------------------------------------------------------------


async def test_auth_answers_ready_with_the_user(client: httpx.AsyncClient, server_url: str) -> None:
    account = await create_account(client)
    socket = await WsClient.authenticated(server_url, account.access_token)
    assert socket.user is not None
    assert socket.user["username"] == account.username
    await socket.close()


@pytest.mark.parametrize(
    "first_frame",
    [
        {"type": "auth", "token": "not-a-jwt"},
        {"type": "auth"},
        {"type": "ping"},
        {"type": "subscribe", "room_id": str(uuid.uuid4())},
        "not json at all",
    ],
)
async def test_anything_but_a_valid_auth_first_closes_4001(
    server_url: str, first_frame: object
) -> None:
    socket = await WsClient.open(server_url)
    await socket.send_raw(first_frame if isinstance(first_frame, str) else json.dumps(first_frame))
    assert await socket.closed_with() == 4001


async def test_no_auth_frame_in_time_closes_4001(
    server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(websocket_endpoint, "AUTH_TIMEOUT_SECONDS", 0.3)
    socket = await WsClient.open(server_url)
    assert await socket.closed_with(within=5) == 4001


async def test_authenticating_while_the_database_refuses_connections_closes_1013(
    settings: Settings,
) -> None:
    """asyncpg's refused connection reaches Parley untranslated by SQLAlchemy: still an
    outage (try again), not a bad token and not an internal error."""
    nowhere = settings.model_copy(
        update={"database_url": "postgresql+asyncpg://postgres@127.0.0.1:9/parley"}
    )
    token = AccessTokenCodec(TEST_SECRET_KEY, ttl_seconds=60).issue(uuid.uuid4())
    async with serve_in_process(nowhere) as url:
        socket = await WsClient.open(url)
        await socket.send({"type": "auth", "token": token})
        assert await socket.closed_with() == 1013


def _token_expiring_at(account: Account, expires_at: datetime) -> str:
    codec = AccessTokenCodec(TEST_SECRET_KEY, ttl_seconds=60)
    return codec.issue(uuid.UUID(account.id), now=expires_at - timedelta(seconds=60))


def _nearly_expired_token(account: Account) -> str:
    """An access token with about a second left to live."""
    return _token_expiring_at(account, datetime.now(UTC) + timedelta(seconds=1))


async def test_the_socket_closes_4001_when_its_token_expires(
    client: httpx.AsyncClient, server_url: str
) -> None:
    account = await create_account(client)
    socket = await WsClient.authenticated(server_url, _nearly_expired_token(account))
    assert await socket.closed_with(within=10) == 4001


async def test_a_fresh_auth_frame_keeps_the_socket_open(
    client: httpx.AsyncClient, server_url: str
) -> None:
    account = await create_account(client)
    # Time enough to send the fresh token before this one expires, however busy the machine.
    expires_at = datetime.now(UTC) + timedelta(seconds=3)
    socket = await WsClient.authenticated(server_url, _token_expiring_at(account, expires_at))
    await socket.send({"type": "auth", "token": account.access_token})
    assert (await socket.recv())["type"] == "ready"
    # The server's clock is its own: past the first token's expiry on the system clock.
    await asyncio.sleep((expires_at - datetime.now(UTC)).total_seconds() + 0.5)
    await socket.send({"type": "ping"})
    assert (await socket.recv())["type"] == "pong"
    await socket.close()


async def test_re_auth_as_someone_else_closes_4001(
    client: httpx.AsyncClient, server_url: str
) -> None:
    alice, bob = await create_account(client), await create_account(client)
    socket = await WsClient.authenticated(server_url, alice.access_token)
    await socket.send({"type": "auth", "token": bob.access_token})
    assert await socket.closed_with() == 4001


# --- sending and receiving ------------------------------------------------------------


@pytest.mark.both_databases  # sockets' sends: batched on PostgreSQL, one by one on SQLite
async def test_send_is_acked_and_delivered_to_every_subscriber(
    client: httpx.AsyncClient, server_url: str
) -> None:
    alice, alice_socket, room_id = await _member_socket(client, server_url)
    bob = await create_account(client)
    await client.post(f"/api/rooms/{room_id}/join", headers=bob.headers)
    bob_socket = await WsClient.authenticated(server_url, bob.access_token)
    assert (await alice_socket.subscribe(room_id))["last_seq"] == 1
    assert (await bob_socket.subscribe(room_id))["last_seq"] == 1

    await alice_socket.send({"type": "send", "room_id": room_id, "body": "hi", "client_id": "a1"})
    ack = await alice_socket.recv_type("ack")
    assert ack["client_id"] == "a1"
    assert ack["message"]["seq"] == 2
    assert ack["message"]["sender"]["username"] == alice.username
    [own] = await alice_socket.messages(room_id, 1)
    [seen] = await bob_socket.messages(room_id, 1)
    assert own == seen == ack["message"]

    # The same client_id again: the first message is acknowledged, nothing new is sent.
    await alice_socket.send({"type": "send", "room_id": room_id, "body": "hi?", "client_id": "a1"})
    again = await alice_socket.recv_type("ack")
    assert again["message"] == ack["message"]
    await bob_socket.no_frame({"message"})
    for ws in (alice_socket, bob_socket):
        await ws.close()


async def test_a_member_may_send_without_subscribing(
    client: httpx.AsyncClient, server_url: str
) -> None:
    _, socket, room_id = await _member_socket(client, server_url)
    await socket.send({"type": "send", "room_id": room_id, "body": "x", "client_id": "c"})
    assert (await socket.recv_type("ack"))["message"]["seq"] == 1
    await socket.no_frame({"message"})  # not subscribed: no message event
    await socket.close()


@pytest.mark.both_databases  # sockets' sends: batched on PostgreSQL, one by one on SQLite
async def test_subscribe_with_since_seq_replays_then_goes_live(
    client: httpx.AsyncClient, server_url: str
) -> None:
    account, socket, room_id = await _member_socket(client, server_url)
    for n in range(1, 6):
        await post_message(client, account, room_id, f"m{n}")
    await socket.send({"type": "subscribe", "room_id": room_id, "since_seq": 2})
    replayed = await socket.messages(room_id, 3)
    assert [m["seq"] for m in replayed] == [3, 4, 5]
    subscribed = await socket.recv_type("subscribed")
    assert subscribed == {"type": "subscribed", "room_id": room_id, "last_seq": 5}
    await post_message(client, account, room_id, "live")
    [live] = await socket.messages(room_id, 1)
    assert (live["seq"], live["body"]) == (6, "live")
    await socket.close()


async def test_subscribe_without_since_seq_starts_at_the_newest(
    client: httpx.AsyncClient, server_url: str
) -> None:
    account, socket, room_id = await _member_socket(client, server_url)
    for _ in range(3):
        await post_message(client, account, room_id)
    subscribed = await socket.subscribe(room_id)
    assert subscribed["last_seq"] == 3
    await post_message(client, account, room_id, "next")
    assert [m["seq"] for m in await socket.messages(room_id, 1)] == [4]
    await socket.close()


async def test_unsubscribe_stops_the_room(client: httpx.AsyncClient, server_url: str) -> None:
    account, socket, room_id = await _member_socket(client, server_url)
    await socket.subscribe(room_id)
    await socket.send({"type": "unsubscribe", "room_id": room_id})
    await socket.send({"type": "ping"})
    await socket.recv_type("pong")
    await post_message(client, account, room_id)
    await socket.no_frame({"message"})
    await socket.close()


@pytest.mark.both_databases  # sockets' sends: batched on PostgreSQL, one by one on SQLite
async def test_edits_and_deletes_reach_subscribers(
    client: httpx.AsyncClient, server_url: str
) -> None:
    account, socket, room_id = await _member_socket(client, server_url)
    await socket.subscribe(room_id)
    message = await post_message(client, account, room_id, "typo")
    await socket.messages(room_id, 1)
    url = f"/api/rooms/{room_id}/messages/{message['id']}"
    await client.patch(url, json={"body": "fixed"}, headers=account.headers)
    edited = await socket.recv_type("message.edited")
    assert edited["message"]["body"] == "fixed"
    await client.delete(url, headers=account.headers)
    deleted = await socket.recv_type("message.deleted")
    assert deleted["message"]["id"] == message["id"]
    assert deleted["message"]["deleted_at"] is not None
    await socket.close()


async def test_typing_reaches_the_others_only(client: httpx.AsyncClient, server_url: str) -> None:
    alice, alice_socket, room_id = await _member_socket(client, server_url)
    bob = await create_account(client)
    await client.post(f"/api/rooms/{room_id}/join", headers=bob.headers)
    bob_socket = await WsClient.authenticated(server_url, bob.access_token)
    await alice_socket.subscribe(room_id)
    await bob_socket.subscribe(room_id)
    await alice_socket.send({"type": "typing", "room_id": room_id})
    typing = await bob_socket.recv_type("typing")
    assert typing["user"]["username"] == alice.username
    await alice_socket.no_frame({"typing"})
    for ws in (alice_socket, bob_socket):
        await ws.close()


async def test_ping_pong(client: httpx.AsyncClient, server_url: str) -> None:
    _, socket, _ = await _member_socket(client, server_url)
    await socket.send({"type": "ping"})
    assert await socket.recv() == {"type": "pong"}
    await socket.close()


# --- errors -------------------------------------------------------------------------


async def test_a_non_member_gets_not_found_with_ref(
    client: httpx.AsyncClient, server_url: str
) -> None:
    owner = await create_account(client)
    room = await create_room(client, owner, is_private=True)
    stranger = await create_account(client)
    socket = await WsClient.authenticated(server_url, stranger.access_token)
    error = await socket.subscribe(room["id"])
    assert error["type"] == "error"
    assert error["code"] == "not_found"
    await socket.send({"type": "send", "room_id": room["id"], "body": "x", "client_id": "s1"})
    sent = await socket.recv_type("error")
    assert (sent["code"], sent["ref"]) == ("not_found", "s1")
    await socket.send({"type": "typing", "room_id": room["id"]})
    assert (await socket.recv_type("error"))["code"] == "not_found"
    history = await client.get(f"/api/rooms/{room['id']}/messages", headers=owner.headers)
    assert history.json()["items"] == []  # nothing was stored
    await socket.close()


@pytest.mark.parametrize(
    ("frame", "detail_part"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "frame"),
        ('"just a string"', "frame"),
        ('{"no_type": 1}', "type"),
        ('{"type": "dance"}', "type"),
        ('{"type": "subscribe", "room_id": "not-a-uuid"}', "room_id"),
        ('{"type": "subscribe", "room_id": 42}', "room_id"),
        ('{"type": "send", "room_id": "%s", "body": 5, "client_id": "c9"}', "body"),
        ('{"type": "send", "room_id": "%s", "body": "", "client_id": "c9"}', "body"),
        ('{"type": "send", "room_id": "%s", "body": "hi"}', "client_id"),
        ('{"type": "subscribe", "room_id": "%s", "since_seq": -1}', "since_seq"),
        ('{"type": "ping", "extra": true}', "extra"),
    ],
)
async def test_a_bad_frame_gets_an_error_and_the_socket_stays_open(
    client: httpx.AsyncClient, server_url: str, frame: str, detail_part: str
) -> None:
    _, socket, room_id = await _member_socket(client, server_url)
    await socket.send_raw(frame.replace("%s", room_id))
    error = await socket.recv_type("error")
    assert error["code"] == "bad_request"
    assert detail_part in error["detail"]
    if "c9" in frame:
        assert error["ref"] == "c9"
    await socket.send({"type": "ping"})
    assert (await socket.recv_type("pong"))["type"] == "pong"
    await socket.close()


async def test_binary_frames_are_bad_requests(client: httpx.AsyncClient, server_url: str) -> None:
    _, socket, _ = await _member_socket(client, server_url)
    await socket.send_raw(b"\x00\x01")
    assert (await socket.recv_type("error"))["code"] == "bad_request"
    await socket.close()


async def test_a_client_that_keeps_sending_garbage_is_closed_1008(
    client: httpx.AsyncClient, server_url: str
) -> None:
    _, socket, _ = await _member_socket(client, server_url)
    for _ in range(10):
        await socket.send_raw("garbage")
    assert await socket.closed_with() == 1008


async def test_an_oversized_frame_closes_1009(client: httpx.AsyncClient, server_url: str) -> None:
    _, socket, room_id = await _member_socket(client, server_url)
    huge = json.dumps({"type": "send", "room_id": room_id, "body": "x" * 70_000, "client_id": "c"})
    await socket.send_raw(huge)
    assert await socket.closed_with() == 1009


async def test_a_slow_consumer_is_closed_1013_and_others_carry_on(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    async with serve_in_process(settings.model_copy(update={"ws_send_queue": 16})) as url:
        alice = await create_account(client)
        room_id = (await create_room(client, alice))["id"]
        bob = await create_account(client)
        await client.post(f"/api/rooms/{room_id}/join", headers=bob.headers)
        # Bob's client has a tiny receive buffer and never reads: the server's queue for
        # him fills up once the kernel's buffers are full.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", int(url.rsplit(":", 1)[1])))
        slow = await WsClient.authenticated(url, bob.access_token, max_queue=1, sock=sock)
        await slow.subscribe(room_id)
        alice_socket = await WsClient.authenticated(url, alice.access_token)
        await alice_socket.subscribe(room_id)
        big = "€" * 4000  # 12 KB a frame: kernel buffers hold megabytes before pushing back

        async def flood() -> None:
            for n in range(700):
                frame = {"type": "send", "room_id": room_id, "body": big, "client_id": f"c{n}"}
                await alice_socket.send(frame)

        async with asyncio.TaskGroup() as group:
            group.create_task(flood())
            acks = 0
            while acks < 700:  # Alice reads as she sends: she keeps up
                acks += (await alice_socket.recv())["type"] == "ack"
        # Bob finally reads: what was buffered, then the close frame.
        assert await slow.closed_with(within=20) == 1013
        await alice_socket.send({"type": "ping"})
        assert (await alice_socket.recv_type("pong"))["type"] == "pong"
        await alice_socket.close()


@pytest.mark.both_databases  # sockets' sends: batched on PostgreSQL, one by one on SQLite
async def test_leaving_a_room_ends_its_events_on_open_sockets(
    client: httpx.AsyncClient, server_url: str
) -> None:
    owner, owner_socket, room_id = await _member_socket(client, server_url)
    member = await create_account(client)
    await client.post(f"/api/rooms/{room_id}/join", headers=member.headers)
    member_socket = await WsClient.authenticated(server_url, member.access_token)
    await member_socket.subscribe(room_id)
    await client.delete(f"/api/rooms/{room_id}/members/me", headers=member.headers)
    # The "left" system message may come first (they were a member when it was stored).
    while (frame := await member_socket.recv())["type"] != "unsubscribed":
        assert frame["type"] == "message", frame
    assert frame == {"type": "unsubscribed", "room_id": room_id, "reason": "left"}
    await post_message(client, owner, room_id, "after you left")
    await member_socket.no_frame({"message"})
    for ws in (owner_socket, member_socket):
        await ws.close()


async def test_presence_events_and_the_presence_endpoint(
    client: httpx.AsyncClient, server_url: str
) -> None:
    alice, alice_socket, room_id = await _member_socket(client, server_url)
    bob = await create_account(client)
    await client.post(f"/api/rooms/{room_id}/join", headers=bob.headers)
    await alice_socket.subscribe(room_id)
    bob_socket = await WsClient.authenticated(server_url, bob.access_token)
    online = await alice_socket.presence_of(bob.username)
    assert online["status"] == "online"
    present = await client.get(f"/api/rooms/{room_id}/presence", headers=alice.headers)
    assert {u["username"] for u in present.json()} == {alice.username, bob.username}
    await bob_socket.close()
    offline = await alice_socket.presence_of(bob.username)
    assert offline["status"] == "offline"
    present = await client.get(f"/api/rooms/{room_id}/presence", headers=alice.headers)
    assert [u["username"] for u in present.json()] == [alice.username]
    await alice_socket.close()
