"""Request bodies bounded in size and in time, before the app is handed more than it may have.

- A body over its allowance is refused with 413 ``too_large``: on its ``Content-Length``
  before a byte of it is handed on, or, sent chunked, as its count passes the allowance. The
  allowance is ``PARLEY_MAX_BODY_BYTES``, unless the endpoint declared an upload
  (``allow_upload``) before reading.
- A body that trickles in is answered 408 ``request_timeout``: it must arrive within
  ``PARLEY_BODY_TIMEOUT`` seconds of the app's first read, an upload one second more for every
  ``PARLEY_UPLOAD_MIN_RATE`` bytes it has sent.
- What the app leaves unread of a body (it answered first) is read and dropped by the server
  for a while, so that the client gets to read the answer (``http_protocol.py``); a 408
  closes the connection at once.
- A client that leaves before its body has arrived is no server fault: one INFO line.

FastAPI turns any failure while it reads a body into a 400 of its own; the refusal replaces
that answer, whichever way the failure travelled.
"""

from __future__ import annotations

import asyncio
import logging
from typing import NoReturn

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimits", "allow_upload"]

log = logging.getLogger(__name__)

_SCOPE_KEY = "parley.request_body"


def allow_upload(request: Request, max_bytes: int) -> None:
    """Let this request's body be an upload: up to ``max_bytes``, with time by its size.
    Call it before reading the body."""
    body = request.scope.get(_SCOPE_KEY)
    if isinstance(body, _GuardedBody):
        body.allow_upload(max_bytes)


class BodyLimits:
    """Pure ASGI middleware; HTTP only (a WebSocket's frames have their own limit)."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, timeout: float, upload_min_rate: int
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.upload_min_rate = upload_min_rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared, has_body = _declared_body(scope)
        if not has_body:  # most requests: nothing to bound, nothing to wrap
            await self.app(scope, receive, send)
            return
        body = _GuardedBody(self, declared, receive, send)
        scope[_SCOPE_KEY] = body
        try:
            await self.app(scope, body.receive, body.send)
        except _BodyRefused:
            if not body.refusal_sent and body.response_started:
                raise  # the app had answered already: too late to refuse
        except ClientDisconnect:
            if not body.client_left:
                raise
            log.info("the client left before its request body had arrived")
            return
        if body.refusal is not None and not body.response_started:
            await body.send_refusal()


class _BodyRefused(Exception):
    """Raised to the app's read; never a ParleyError, so that no handler answers it."""


class _GuardedBody:
    """One request's body as the app reads it: counted, timed, refused when over."""

    def __init__(
        self, limits: BodyLimits, declared: int | None, receive: Receive, send: Send
    ) -> None:
        self._limits = limits
        self._receive = receive
        self._send = send
        self.allowance = limits.max_bytes
        self._min_rate: int | None = None
        self._declared = declared
        self.complete = False
        self._started: float | None = None
        self._received = 0
        self.refusal: tuple[int, str, str] | None = None
        self.refusal_sent = False
        self.response_started = False
        self.client_left = False

    def allow_upload(self, max_bytes: int) -> None:
        self.allowance = max_bytes
        self._min_rate = self._limits.upload_min_rate

    async def receive(self) -> Message:
        if self.refusal is not None:
            raise _BodyRefused
        if self.complete:
            return await self._receive()  # the body is in: this waits for a disconnect
        loop = asyncio.get_running_loop()
        if self._started is None:
            self._started = loop.time()
            if self._declared is not None and self._declared > self.allowance:
                self._refuse_too_large()
        try:
            async with asyncio.timeout_at(self._deadline()):
                message = await self._receive()
        except TimeoutError:
            seconds = self._deadline() - self._started
            self._refuse(408, "request_timeout", f"The body took over {seconds:.0f} s to arrive.")
        if message["type"] == "http.disconnect":
            self.client_left = True
            return message
        self._received += len(message.get("body", b""))
        if self._received > self.allowance:
            self._refuse_too_large()
        self.complete = not message.get("more_body", False)
        return message

    def _deadline(self) -> float:
        assert self._started is not None  # noqa: S101 (set by the first read)
        allowed = self._limits.timeout
        if self._min_rate is not None:
            allowed += self._received / self._min_rate
        return self._started + allowed

    def _refuse_too_large(self) -> NoReturn:
        self._refuse(413, "too_large", f"The request body may be at most {self.allowance} bytes.")

    def _refuse(self, status: int, code: str, detail: str) -> NoReturn:
        self.refusal = (status, code, detail)
        raise _BodyRefused

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            if self.refusal is not None:
                await self.send_refusal()  # in place of the app's own answer to its failed read
                return
            self.response_started = True
        elif self.refusal_sent:
            return
        await self._send(message)

    async def send_refusal(self) -> None:
        assert self.refusal is not None  # noqa: S101
        status, code, detail = self.refusal
        body = orjson.dumps({"error": code, "detail": detail})
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        if status == 408:
            headers.append((b"connection", b"close"))  # a client this slow gets no second turn
        self.response_started = self.refusal_sent = True
        await self._send({"type": "http.response.start", "status": status, "headers": headers})
        await self._send({"type": "http.response.body", "body": body})


def _declared_body(scope: Scope) -> tuple[int | None, bool]:
    """The ``Content-Length`` (None when absent: chunked), and whether there is a body."""
    length: int | None = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            length = int(value)  # the server has refused a request whose length is no number
        elif name == b"transfer-encoding":
            chunked = True
    return length, chunked or bool(length)
