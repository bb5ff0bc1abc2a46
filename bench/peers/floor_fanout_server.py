"""The floor for Python fan-out: the least a WebSocket server needs to fan a room out across
instances through Redis pub/sub, with the ``websockets`` library at its defaults.

It speaks a subset of Parley's frames so that the benchmark's clients are the same:
``auth`` is accepted as given (``ready``), ``subscribe`` joins a room (``subscribed``), and
``send`` is published to the room's channel and acknowledged (``ack``). Every instance
listens to every room's channel and broadcasts what arrives, as it arrives, to its local
subscribers. No store, no order, no authentication: this is what fan-out costs at least.

    python -m bench.peers.floor_fanout_server --port 9000 --redis redis://… --prefix bench-floor
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import defaultdict

import redis.asyncio as redis
from websockets.asyncio.server import ServerConnection, broadcast, serve

rooms: defaultdict[str, set[ServerConnection]] = defaultdict(set)


async def handle(socket: ServerConnection, publisher: redis.Redis, prefix: str) -> None:
    joined: set[str] = set()
    try:
        async for raw in socket:
            frame = json.loads(raw)
            if frame["type"] == "auth":
                await socket.send('{"type":"ready"}')
            elif frame["type"] == "subscribe":
                rooms[frame["room_id"]].add(socket)
                joined.add(frame["room_id"])
                await socket.send('{"type":"subscribed"}')
            elif frame["type"] == "send":
                event = {"room_id": frame["room_id"], "message": {"body": frame["body"]}}
                await publisher.publish(
                    f"{prefix}:{frame['room_id']}", json.dumps({"type": "message", **event})
                )
                await socket.send(json.dumps({"type": "ack", "client_id": frame["client_id"]}))
    finally:
        for room in joined:
            rooms[room].discard(socket)


async def relay(client: redis.Redis, prefix: str) -> None:
    """Every room's channel, broadcast to this instance's subscribers of that room."""
    async with client.pubsub() as pubsub:
        await pubsub.psubscribe(f"{prefix}:*")
        async for item in pubsub.listen():
            if item["type"] == "pmessage":
                room = item["channel"][len(prefix) + 1 :].decode()
                broadcast(rooms[room], item["data"], text=True)  # already UTF-8 JSON


async def main(port: int, redis_url: str, prefix: str) -> None:
    client = redis.Redis.from_url(redis_url)
    async with serve(lambda socket: handle(socket, client, prefix), "127.0.0.1", port):
        await relay(client, prefix)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", required=True, help="Redis URL shared by every instance")
    parser.add_argument("--prefix", required=True, help="channel prefix of this benchmark run")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.port, arguments.redis, arguments.prefix))
