"""uvicorn's httptools HTTP protocol, with deadlines where the app cannot see.

- Headers: uvicorn waits for them as long as a client likes, so a connection that sends
  nothing, or a header a byte at a time, was held for ever (a few hundred of them hold every
  slot a proxy or the process has). Here a connection has ``header_timeout`` seconds from its
  opening, and each later request as long from its first byte, to send its headers whole.
  Past that it is closed: with a 408 if part of a request had come, silently if nothing had
  (a browser's connection opened ahead of need is closed so too).
- The unread rest of a body: when the app answers before reading a body whole (a 413, a 401
  to an upload), uvicorn reads the rest and drops it, so that a client still sending gets to
  read the answer rather than a reset. That reading now ends ``unread_body_timeout`` seconds
  after the answer, with the connection, however slowly the rest comes.

The body the app reads has its deadline in the app (``api/body_limit.py``), where it is
known whether the request is an upload.

It reads uvicorn's internals (``transport``, ``loop``, the parser callbacks and
``on_response_complete``): pyproject.toml pins uvicorn to the releases they were read from,
and ``tests/unit/test_uvicorn_internals.py`` fails when they change.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

__all__ = ["BoundedHttpProtocol", "bounded_http_protocol"]

_TIMED_OUT_BODY = b'{"error":"request_timeout","detail":"The request headers took too long."}'
_TIMED_OUT = b"".join(
    [
        b"HTTP/1.1 408 Request Timeout\r\n",
        b"content-type: application/json\r\n",
        b"content-length: %d\r\n" % len(_TIMED_OUT_BODY),
        b"connection: close\r\n\r\n",
        _TIMED_OUT_BODY,
    ]
)


class BoundedHttpProtocol(HttpToolsProtocol):
    header_timeout = 15.0
    unread_body_timeout = 30.0

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._header_timer: asyncio.TimerHandle | None = None
        self._unread_body_timer: asyncio.TimerHandle | None = None
        self._request_begun = False
        self._message_complete = True

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        self._cancel_unread_body_timer()
        super().connection_lost(exc)

    # --- headers --------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._request_begun = True
        self._message_complete = False
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_timed_out)

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        self._request_begun = False
        super().on_headers_complete()

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_timed_out(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if self._request_begun:
            self.transport.write(_TIMED_OUT)
        self.transport.close()

    # --- the unread rest of a body ----------------------------------------------------------

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self._message_complete and not self.transport.is_closing():
            self._unread_body_timer = self.loop.call_later(
                self.unread_body_timeout, self.transport.close
            )

    def _cancel_unread_body_timer(self) -> None:
        if self._unread_body_timer is not None:
            self._unread_body_timer.cancel()
            self._unread_body_timer = None

    def on_message_complete(self) -> None:
        self._message_complete = True
        if self._unread_body_timer is not None:
            # The rest came after the answer (uvicorn's keep-alive timer was cancelled as it
            # did): the next request has what headers have, from now.
            self._cancel_unread_body_timer()
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(
                    self.header_timeout, self._headers_timed_out
                )
        super().on_message_complete()


def bounded_http_protocol(
    *, header_timeout: float, unread_body_timeout: float
) -> type[BoundedHttpProtocol]:
    """The protocol class for uvicorn's ``http=``, with these deadlines."""
    return type(
        "BoundedHttpProtocol",
        (BoundedHttpProtocol,),
        {"header_timeout": header_timeout, "unread_body_timeout": unread_body_timeout},
    )
