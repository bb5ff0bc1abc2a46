"""``ready`` means the socket gets its user's events: it is sent only once the socket's user
channel is subscribed, so a change made right after ``ready`` cannot fall between the two."""

from __future__ import annotations

import httpx
import pytest

from parley.core.settings import Settings
from tests.support.factories import create_account, create_room
from tests.support.processes import RedisServer
from tests.support.servers import serve_in_process
from tests.support.ws import WsClient


async def test_ready_waits_for_the_user_channel(
    settings: Settings, private_redis: RedisServer
) -> None:
    clustered = settings.model_copy(update={"redis_url": private_redis.url})
    async with (
        serve_in_process(clustered) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as api,
    ):
        alice, bob = await create_account(api), await create_account(api)
        socket = await WsClient.open(url)
        private_redis.freeze()  # the user channel's SUBSCRIBE cannot be confirmed meanwhile
        try:
            await socket.send({"type": "auth", "token": bob.access_token})
            with pytest.raises(TimeoutError):
                await socket.recv(within=1.0)
        finally:
            private_redis.thaw()
        assert (await socket.recv())["type"] == "ready"
        # From ``ready`` on, a room Bob is added to reaches him, whichever instance adds him.
        room = await create_room(api, alice)
        added = await api.post(
            f"/api/rooms/{room['id']}/members",
            json={"username": bob.username},
            headers=alice.headers,
        )
        assert added.status_code == 204
        frame = await socket.recv_type("room.added")
        assert frame["room"]["id"] == room["id"]
