"""Events for the user across two real instances: a user's sockets on both get ``room.added``,
``room.updated`` and ``room.removed`` without subscribing, whichever instance made the change."""

from __future__ import annotations

import httpx

from tests.support.factories import Account, Json, create_account, create_room
from tests.support.processes import Cluster
from tests.support.ws import WsClient

ROOM_EVENTS = ("room.added", "room.removed", "room.updated")


async def _listening(url: str, account: Account) -> WsClient:
    """Authenticated, subscribed to nothing; the ``pong`` says its user's channel is live."""
    socket = await WsClient.authenticated(url, account.access_token)
    await socket.send({"type": "ping"})
    await socket.recv_type("pong")
    return socket


async def _listed(api: httpx.AsyncClient, account: Account, room_id: str) -> Json:
    response = await api.get("/api/rooms", headers=account.headers)
    [room] = [room for room in response.json() if room["id"] == room_id]
    return dict(room)


async def test_a_users_sockets_on_both_instances_follow_their_rooms(
    cluster: Cluster, api: httpx.AsyncClient
) -> None:
    alice, bob, carol = [await create_account(api) for _ in range(3)]
    alice_sockets = [await _listening(cluster.url(i), alice) for i in (0, 1)]
    bob_socket = await _listening(cluster.url(1), bob)

    async def alice_gets(frame: Json) -> None:
        for socket in alice_sockets:
            assert await socket.recv_type(*ROOM_EVENTS) == frame

    async with httpx.AsyncClient(base_url=cluster.url(1), timeout=30) as other_api:
        # Created, on the second instance.
        made = await create_room(other_api, alice, "mine")
        await alice_gets({"type": "room.added", "room": made})

        # Joined, on the first.
        public = await create_room(api, bob, "public")
        assert await bob_socket.recv_type(*ROOM_EVENTS) == {"type": "room.added", "room": public}
        joined = await api.post(f"/api/rooms/{public['id']}/join", headers=alice.headers)
        await alice_gets({"type": "room.added", "room": joined.json()})
        assert joined.json() == await _listed(api, alice, public["id"])

        # Added by another member, on the second.
        private = await create_room(other_api, carol, "private", is_private=True)
        added = await other_api.post(
            f"/api/rooms/{private['id']}/members",
            json={"username": alice.username},
            headers=carol.headers,
        )
        assert added.status_code == 204
        await alice_gets({"type": "room.added", "room": await _listed(api, alice, private["id"])})

        # A direct room opened by the other user, on the first.
        direct = await api.post("/api/dm", json={"username": alice.username}, headers=bob.headers)
        assert direct.status_code == 201
        await alice_gets({"type": "room.added", "room": direct.json()})
        assert await bob_socket.recv_type(*ROOM_EVENTS) == {
            "type": "room.added",
            "room": direct.json(),
        }

        # Renamed by its owner, on the second: every member hears of it, on any instance.
        renamed = await other_api.patch(
            f"/api/rooms/{public['id']}", json={"name": "renamed"}, headers=bob.headers
        )
        assert renamed.json()["name"] == "renamed"
        await alice_gets({"type": "room.updated", "room": renamed.json()})
        assert await bob_socket.recv_type(*ROOM_EVENTS) == {
            "type": "room.updated",
            "room": renamed.json(),
        }

        # Left, on the first.
        left = await api.delete(f"/api/rooms/{public['id']}/members/me", headers=alice.headers)
        assert left.status_code == 204
        await alice_gets({"type": "room.removed", "room_id": public["id"]})

    for socket in alice_sockets:
        await socket.no_frame(ROOM_EVENTS)  # and nothing twice
    await bob_socket.no_frame(ROOM_EVENTS)  # nor of Alice's rooms that are not his
