"""Events for the user: ``room.added``, ``room.removed`` and ``room.updated`` reach every socket
of the user without a ``subscribe``, carry the room as ``GET /api/rooms`` lists it, and are
published only for what committed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from parley.core.settings import RateLimitMode, Settings
from tests.support.factories import Account, Json, create_account, create_room
from tests.support.servers import serve_in_process
from tests.support.ws import WsClient

ROOM_EVENTS = ("room.added", "room.removed", "room.updated")


async def _listening(server_url: str, account: Account) -> WsClient:
    """A socket of the user, authenticated and subscribed to nothing; its ``pong`` says the
    server has registered it, so its user's events from now on reach it."""
    socket = await WsClient.authenticated(server_url, account.access_token)
    await socket.send({"type": "ping"})
    await socket.recv_type("pong")
    return socket


async def _next_room_event(socket: WsClient) -> Json:
    return await socket.recv_type(*ROOM_EVENTS)


async def _listed(client: httpx.AsyncClient, account: Account, room_id: str) -> Json:
    """The room as the user's ``GET /api/rooms`` lists it now."""
    response = await client.get("/api/rooms", headers=account.headers)
    assert response.status_code == 200, response.text
    [room] = [room for room in response.json() if room["id"] == room_id]
    return dict(room)


async def test_every_socket_of_a_user_learns_each_way_they_become_a_member_and_leave(
    client: httpx.AsyncClient, server_url: str
) -> None:
    alice, bob, carol, dave = [await create_account(client) for _ in range(4)]
    sockets = [await _listening(server_url, alice) for _ in range(2)]
    bob_socket = await _listening(server_url, bob)

    async def each_socket_gets(frame: Json) -> None:
        for socket in sockets:
            assert await _next_room_event(socket) == frame

    # She creates a room.
    made = await create_room(client, alice, "mine")
    await each_socket_gets({"type": "room.added", "room": await _listed(client, alice, made["id"])})
    assert made == await _listed(client, alice, made["id"])

    # She joins a public room (its "joined" message is its last seq).
    public = await create_room(client, bob, "public")
    joined = await client.post(f"/api/rooms/{public['id']}/join", headers=alice.headers)
    assert joined.status_code == 200
    listed = await _listed(client, alice, public["id"])
    assert listed["last_seq"] == 1
    await each_socket_gets({"type": "room.added", "room": listed})

    # The owner of a private room adds her.
    private = await create_room(client, carol, "private", is_private=True)
    added = await client.post(
        f"/api/rooms/{private['id']}/members",
        json={"username": alice.username},
        headers=carol.headers,
    )
    assert added.status_code == 204
    await each_socket_gets(
        {"type": "room.added", "room": await _listed(client, alice, private["id"])}
    )

    # Another user opens a direct room with her.
    direct = await client.post("/api/dm", json={"username": alice.username}, headers=dave.headers)
    assert direct.status_code == 201
    await each_socket_gets({"type": "room.added", "room": direct.json()})
    assert direct.json() == await _listed(client, alice, direct.json()["id"])

    # She leaves.
    left = await client.delete(f"/api/rooms/{public['id']}/members/me", headers=alice.headers)
    assert left.status_code == 204
    await each_socket_gets({"type": "room.removed", "room_id": public["id"]})

    # Bob heard of the room he made and nothing of the others' comings and goings.
    assert await _next_room_event(bob_socket) == {"type": "room.added", "room": public}
    await bob_socket.no_frame(ROOM_EVENTS)


async def test_a_rename_updates_every_member_and_no_one_else(
    client: httpx.AsyncClient, server_url: str
) -> None:
    alice, bob, stranger = [await create_account(client) for _ in range(3)]
    room = await create_room(client, alice, "before")
    await client.post(f"/api/rooms/{room['id']}/join", headers=bob.headers)
    members = [await _listening(server_url, alice), await _listening(server_url, bob)]
    stranger_socket = await _listening(server_url, stranger)

    renamed = await client.patch(
        f"/api/rooms/{room['id']}", json={"name": "after"}, headers=alice.headers
    )
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "after"
    assert renamed.json() == await _listed(client, bob, room["id"])
    for socket in members:
        assert await _next_room_event(socket) == {"type": "room.updated", "room": renamed.json()}

    # The same name again changes nothing, and says nothing; a real change does.
    await client.patch(f"/api/rooms/{room['id']}", json={"name": "after"}, headers=alice.headers)
    again = await client.patch(
        f"/api/rooms/{room['id']}", json={"name": "later"}, headers=alice.headers
    )
    for socket in members:
        assert await _next_room_event(socket) == {"type": "room.updated", "room": again.json()}
    await stranger_socket.no_frame(ROOM_EVENTS)


async def test_an_owner_who_leaves_updates_the_others_with_the_new_owner(
    client: httpx.AsyncClient, server_url: str
) -> None:
    alice, bob = await create_account(client), await create_account(client)
    room = await create_room(client, alice)
    await client.post(f"/api/rooms/{room['id']}/join", headers=bob.headers)
    alice_socket, bob_socket = (
        await _listening(server_url, alice),
        await _listening(server_url, bob),
    )

    await client.delete(f"/api/rooms/{room['id']}/members/me", headers=alice.headers)
    assert await _next_room_event(alice_socket) == {"type": "room.removed", "room_id": room["id"]}
    updated = await _next_room_event(bob_socket)
    assert updated == {"type": "room.updated", "room": await _listed(client, bob, room["id"])}
    assert updated["room"]["owner_id"] == bob.id


async def test_a_direct_room_opened_again_is_added_back_for_the_one_who_left(
    client: httpx.AsyncClient, server_url: str
) -> None:
    alice, bob = await create_account(client), await create_account(client)
    alice_socket, bob_socket = (
        await _listening(server_url, alice),
        await _listening(server_url, bob),
    )
    made = await client.post("/api/dm", json={"username": bob.username}, headers=alice.headers)
    for socket in (alice_socket, bob_socket):
        assert await _next_room_event(socket) == {"type": "room.added", "room": made.json()}
    room_id = made.json()["id"]

    await client.delete(f"/api/rooms/{room_id}/members/me", headers=bob.headers)
    assert await _next_room_event(bob_socket) == {"type": "room.removed", "room_id": room_id}
    reopened = await client.post("/api/dm", json={"username": bob.username}, headers=alice.headers)
    assert reopened.status_code == 200
    listed = await _listed(client, bob, room_id)
    assert listed["last_seq"] == 2  # "left", then "joined"
    assert await _next_room_event(bob_socket) == {"type": "room.added", "room": listed}
    # Alice never left: for her nothing changed but the room's messages.
    await alice_socket.no_frame(ROOM_EVENTS)


@pytest.fixture
async def one_room_a_minute(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    limited = settings.model_copy(
        update={"rate_limits": RateLimitMode.ON, "rate_limit_rooms": "1/minute"}
    )
    async with (
        serve_in_process(limited) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        yield client, url


async def test_a_change_rolled_back_publishes_nothing(
    one_room_a_minute: tuple[httpx.AsyncClient, str],
) -> None:
    """A direct room refused by the rate limit is made, then rolled back: neither user hears
    of it. The next event each socket gets is the one published after it."""
    client, server_url = one_room_a_minute
    alice, bob, carol = [await create_account(client) for _ in range(3)]
    alice_socket, bob_socket = (
        await _listening(server_url, alice),
        await _listening(server_url, bob),
    )
    await create_room(client, alice)  # her one room this minute
    assert (await _next_room_event(alice_socket))["type"] == "room.added"

    refused = await client.post("/api/dm", json={"username": bob.username}, headers=alice.headers)
    assert refused.status_code == 429
    assert (await client.get("/api/rooms", headers=bob.headers)).json() == []

    marker = await create_room(client, carol, "marker")
    for account in (alice, bob):
        added = await client.post(
            f"/api/rooms/{marker['id']}/members",
            json={"username": account.username},
            headers=carol.headers,
        )
        assert added.status_code == 204
    for socket in (alice_socket, bob_socket):
        frame = await _next_room_event(socket)
        assert (frame["type"], frame["room"]["id"]) == ("room.added", marker["id"])
