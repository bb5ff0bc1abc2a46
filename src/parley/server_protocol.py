"""uvicorn's sans-I/O WebSocket protocol, offering the app a frame written at once.

The offer is the ``parley.websocket.write_now`` scope extension (``realtime/direct_write.py``
says why fan-out wants it). It is made only on a socket without compression, for the frames
it writes are encoded once for every socket.
"""

from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

from parley.realtime.direct_write import WRITE_NOW

__all__ = ["DirectWriteProtocol"]

# Read once: looking a member up on its enum class costs as much as the rest of the checks.
_OPEN = State.OPEN


class DirectWriteProtocol(WebSocketsSansIOProtocol):
    async def run_asgi(self) -> None:
        # The handshake request is parsed and its extensions negotiated by now.
        if not self.conn.extensions:
            self.scope["extensions"][WRITE_NOW] = {"write": self.write_now}
        await super().run_asgi()

    def write_now(self, frame: bytes) -> bool:
        """Write ``frame`` if the socket is open and its transport takes more without
        waiting; otherwise write nothing: ``send`` waits for the transport, or raises."""
        if (
            self.conn.state is _OPEN
            and not self.close_sent
            and self.writable.is_set()
            and not self.transport.is_closing()
        ):
            self.transport.write(frame)
            return True
        return False
