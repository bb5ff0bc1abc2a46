"""Per HTTP request: an id for the logs (and the response), and the request metrics."""

from __future__ import annotations

import re
import time
import uuid

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parley.core.logging import context
from parley.observability.metrics import Metrics

__all__ = ["RequestObservability"]

_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")


class RequestObservability:
    """Pure ASGI middleware (no body buffering, WebSockets untouched but for their id)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        supplied = dict(scope["headers"]).get(b"x-request-id", b"")
        # A proxy's id is kept so that its logs and ours join up; anything not shaped like an
        # id (spaces, quotes, markup, an essay) is replaced, for log readers to trust it.
        valid = _REQUEST_ID.fullmatch(supplied) is not None
        request_id = supplied.decode() if valid else uuid.uuid4().hex
        context.set({"request_id": request_id})
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500
        answered = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = message["status"], True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # A server fault: answered here, so that the answer carries the request id the
            # log line has; then raised on, for the server to log with its traceback.
            if not answered:
                await _answer_server_fault(send_with_id)
            raise
        finally:
            route = _route_template(scope)
            method = scope["method"]
            self.metrics.http_requests.labels(route, method, str(status)).inc()
            self.metrics.http_duration.labels(route, method).observe(time.perf_counter() - started)


_SERVER_FAULT = orjson.dumps(
    {"error": "internal_error", "detail": "Something went wrong on our side."}
)


async def _answer_server_fault(send: Send) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", b"%d" % len(_SERVER_FAULT)),
    ]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": _SERVER_FAULT})


def _route_template(scope: Scope) -> str:
    """The matched route's template (``/api/rooms/{room_id}``), never the raw path: raw
    paths carry ids and would make a metric label per room."""
    template = getattr(scope.get("route"), "path", None)
    if template is None:
        return "/static" if scope["path"].startswith("/static/") else "unmatched"
    # An included router's route knows its path below the prefix it was included with
    # (``/api``); the prefix is whatever leading segments the template does not cover.
    segments = scope["path"].strip("/").split("/")
    covered = len(template.strip("/").split("/")) if template.strip("/") else 0
    prefix = "/".join(segments[: len(segments) - covered])
    return f"/{prefix}{template}" if prefix else template
