"""The fan-out peer: python-socketio's ``AsyncServer`` with its Redis manager, served by
uvicorn as an ASGI app, everything else at its defaults. Several instances on one Redis
channel are one cluster: an ``emit`` to a room reaches its members on every instance.

Events mirror Parley's frames: any connection is accepted (with whatever ``auth`` payload),
``subscribe`` enters a room and ``send`` emits a ``message`` to it, both acknowledged.

    python -m bench.peers.socketio_fanout_server --port 9100 --redis redis://… --channel bench-sio
"""

from __future__ import annotations

import argparse
from typing import Any

import socketio  # type: ignore[import-untyped]
import uvicorn


def application(redis_url: str, channel: str) -> Any:
    # "asgi" must be named: with aiohttp installed the default mode would be aiohttp's.
    manager = socketio.AsyncRedisManager(redis_url, channel)
    server = socketio.AsyncServer(async_mode="asgi", client_manager=manager)

    async def subscribe(sid: str, room: str) -> str:
        await server.enter_room(sid, room)
        return "subscribed"

    async def send(_sid: str, frame: dict[str, Any]) -> str:
        await server.emit("message", frame, room=frame["room"])
        return "ack"

    server.on("subscribe", subscribe)
    server.on("send", send)
    return socketio.ASGIApp(server)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", required=True, help="Redis URL shared by every instance")
    parser.add_argument("--channel", required=True, help="pub/sub channel of this benchmark run")
    arguments = parser.parse_args()
    # Warnings only: an access-log line per connection is not what is being measured.
    uvicorn.run(
        application(arguments.redis, arguments.channel),
        host="127.0.0.1",
        port=arguments.port,
        log_level="warning",
    )
