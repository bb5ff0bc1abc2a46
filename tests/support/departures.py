"""A member leaving a private room while their sockets subscribe to it, raced for real.

A private room has an owner, a watcher (who stays) and a leaver. Each round the owner adds
the leaver back, and every socket of the leaver sends ``subscribe`` at the moment the
leaver leaves over REST; no other socket watches the room then, so each instance starts
the room for the leaver's sockets, the widest window a subscribe and a leave can race in.
Once the leave has committed, the watcher subscribes (one socket per instance), the owner
types and sends a message, and once every watcher has both, every instance has handed them
to its sockets. Each of the leaver's sockets then tries to type in the room, and sends a
ping: its pong comes after whatever the server had queued for it, so what it read up to
the pong is all it will ever get.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx

from tests.support.factories import Account, Json, create_account, create_room
from tests.support.ws import WsClient

__all__ = ["LeavingRace"]

# The subscribes go out a fraction of a leave's duration after the leave, a different one each
# round: the leave commits near its end, and the window that matters (between a subscribe's
# read of the membership and its socket joining the room) is a few round trips wide.
_DELAY_STEPS = 12


@dataclass
class LeavingRace:
    api: httpx.AsyncClient
    room_id: str
    owner: Account
    watcher: Account
    leaver: Account
    owner_socket: WsClient
    watcher_sockets: list[WsClient]
    leaver_sockets: list[WsClient]
    seen: int = 0  # the last seq the watcher has seen
    leave_seconds: float = 0.005  # how long the last leave took, until its answer

    @classmethod
    async def start(
        cls, api: httpx.AsyncClient, urls: list[str], sockets_per_instance: int
    ) -> LeavingRace:
        """The room, and sockets on every instance of ``urls`` (the owner's on the first)."""
        owner, watcher, leaver = [await create_account(api) for _ in range(3)]
        room = await create_room(api, owner, "the leaving race", is_private=True)
        race = cls(
            api=api,
            room_id=str(room["id"]),
            owner=owner,
            watcher=watcher,
            leaver=leaver,
            owner_socket=await WsClient.authenticated(urls[0], owner.access_token),
            watcher_sockets=[
                await WsClient.authenticated(url, watcher.access_token) for url in urls
            ],
            leaver_sockets=[
                await WsClient.authenticated(url, leaver.access_token)
                for url in urls
                for _ in range(sockets_per_instance)
            ],
        )
        await race._add(watcher)
        return race

    async def round(self, number: int) -> list[str]:
        """Race one leave against the subscribes; returns what outlived the leave (nothing,
        when all is well)."""
        await self._add(self.leaver)
        delay = (number % _DELAY_STEPS) / _DELAY_STEPS * self.leave_seconds
        left, _ = await asyncio.gather(self._leave(), self._subscribe_all(delay))
        assert left.status_code == 204, left.text
        # Each socket's subscribe is handled (its subscription made, or refused) by its pong.
        sockets = self.leaver_sockets
        before = await asyncio.gather(*(_read_up_to_pong(socket) for socket in sockets))
        left_seq = await self._after_the_leave()
        typing = {"type": "typing", "room_id": self.room_id}
        after = await asyncio.gather(*(_read_up_to_pong(socket, typing) for socket in sockets))
        return [
            f"socket {index}: {leak}"
            for index, (first, then) in enumerate(zip(before, after, strict=True))
            for leak in _leaks(first + then, self.room_id, left_seq)
        ]

    async def _add(self, member: Account) -> None:
        added = await self.api.post(
            f"/api/rooms/{self.room_id}/members",
            json={"username": member.username},
            headers=self.owner.headers,
        )
        assert added.status_code == 204, added.text

    async def _subscribe_all(self, delay: float) -> None:
        await asyncio.sleep(delay)
        frame = {"type": "subscribe", "room_id": self.room_id}
        await asyncio.gather(*(socket.send(frame) for socket in self.leaver_sockets))

    async def _leave(self) -> httpx.Response:
        started = time.perf_counter()
        left = await self.api.delete(
            f"/api/rooms/{self.room_id}/members/me", headers=self.leaver.headers
        )
        self.leave_seconds = time.perf_counter() - started
        return left

    async def _after_the_leave(self) -> int:
        """The owner types and sends; returns the seq of the "left" message once every
        instance has handed both out (each watcher has them). The watchers then unsubscribe,
        so that no socket watches the room when the next round starts."""
        room_id = self.room_id
        left_seqs = set()
        for socket in self.watcher_sockets:
            await socket.send({"type": "subscribe", "room_id": room_id, "since_seq": self.seen})
            for frame in await _read_up_to(socket, "subscribed"):
                message = frame.get("message") or {}
                if (message.get("attachment") or {}).get("event") == "left":
                    left_seqs.add(message["seq"])
        await self.owner_socket.send({"type": "typing", "room_id": room_id})
        sent = {"type": "send", "room_id": room_id, "body": "after", "client_id": str(self.seen)}
        await self.owner_socket.send(sent)
        self.seen = (await self.owner_socket.recv_type("ack"))["message"]["seq"]
        for socket in self.watcher_sockets:
            frames = await _read_up_to(socket, "message", seq=self.seen)
            assert any(frame["type"] == "typing" for frame in frames), frames
            await socket.send({"type": "unsubscribe", "room_id": room_id})
            await _read_up_to(socket, "unsubscribed")
        [left_seq] = left_seqs
        return int(left_seq)


async def _read_up_to(socket: WsClient, kind: str, seq: int | None = None) -> list[Json]:
    """The frames up to the first of ``kind`` (a message: of ``seq``), that one included."""
    frames = []
    while True:
        frame = await socket.recv()
        frames.append(frame)
        if frame["type"] == kind and (seq is None or frame["message"]["seq"] == seq):
            return frames


async def _read_up_to_pong(socket: WsClient, first: Json | None = None) -> list[Json]:
    """What the socket got before a ping's answer (after sending ``first``, if given): the
    pong comes after all that was queued for the socket before it."""
    if first is not None:
        await socket.send(first)
    await socket.send({"type": "ping"})
    frames = []
    while (frame := await socket.recv()) != {"type": "pong"}:
        frames.append(frame)
    return frames


def _leaks(frames: list[Json], room_id: str, left_seq: int) -> list[str]:
    """What one socket of the leaver got that it must not have: a message after the one
    saying they left, any typing, a subscription that never ended, a ``typing`` of theirs
    accepted."""
    found = []
    for frame in frames:
        if frame["type"] == "message" and frame["message"]["seq"] > left_seq:
            found.append(f"message {frame['message']['seq']} after leaving at {left_seq}")
        elif frame["type"] == "typing":
            found.append("another member's typing after leaving")
    of_room = [frame for frame in frames if frame.get("room_id") == room_id]
    subscribed = [i for i, frame in enumerate(of_room) if frame["type"] == "subscribed"]
    ended = [i for i, frame in enumerate(of_room) if frame["type"] == "unsubscribed"]
    if subscribed and not any(end > subscribed[-1] for end in ended):
        found.append("still subscribed after leaving")
    if not frames or frames[-1].get("code") != "not_found":
        found.append("typing accepted after leaving")
    return found
