"""Writing a frame to a socket at once, past ASGI's ``send``, where the server offers it.

Every socket of a room gets the same frame. Through ASGI each socket writes it with a
coroutine of its own: a task woken per socket, the frame encoded again per socket. The floor
of Python fan-out, ``websockets.broadcast``, encodes the frame once and writes it to every
socket in one plain loop. ``parley serve`` offers its app that loop through a scope
extension (``parley.server_protocol``): a function that writes an encoded frame if the socket
can take it now and says whether it did. When it cannot (a client reading slowly has filled
its transport, or the socket is closing), the frame goes through ``send`` as before, which
waits, or raises. Under any other ASGI server the extension is absent and every frame goes
through ``send``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

from websockets.frames import Frame, Opcode

__all__ = ["WRITE_NOW", "WriteNow", "text_frame", "write_now_of"]

# The scope extension: ``scope["extensions"][WRITE_NOW]["write"]`` is a ``WriteNow``.
WRITE_NOW = "parley.websocket.write_now"

# Writes one encoded frame now and returns True, or writes nothing and returns False.
WriteNow: TypeAlias = Callable[[bytes], bool]


def text_frame(text: str) -> bytes:
    """``text`` as the server's WebSocket text frame (unmasked, uncompressed)."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


def write_now_of(scope: Mapping[str, Any]) -> WriteNow | None:
    """The server's ``WriteNow`` for this socket, or None if the server offers none."""
    extension = (scope.get("extensions") or {}).get(WRITE_NOW)
    return None if extension is None else extension["write"]
