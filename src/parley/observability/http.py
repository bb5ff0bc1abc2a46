"""Per HTTP request: an id for the logs (and the response), and the request metrics."""

from __future__ import annotations

import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parley.core.logging import context
from parley.observability.metrics import Metrics

__all__ = ["RequestObservability"]


class RequestObservability:
    """Pure ASGI middleware (no body buffering, WebSockets untouched but for their id)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        supplied = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = supplied[:64] if supplied.isprintable() and supplied else uuid.uuid4().hex
        context.set({"request_id": request_id})
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = _route_template(scope)
            method = scope["method"]
            self.metrics.http_requests.labels(route, method, str(status)).inc()
            self.metrics.http_duration.labels(route, method).observe(time.perf_counter() - started)


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
