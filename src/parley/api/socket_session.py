"""One authenticated socket: what each client frame does, and the loops' lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime

import orjson
from fastapi import WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from redis.exceptions import RedisError
from starlette.websockets import WebSocketState

from parley.composition.state import AppState
from parley.core.errors import ParleyError
from parley.core.logging import context as log_context
from parley.db.models import User
from parley.db.outage import DATABASE_UNREACHABLE
from parley.realtime.connection import CLOSE_INTERNAL_ERROR, AsgiSend, Connection
from parley.realtime.direct_write import write_now_of
from parley.realtime.frames import (
    AuthFrame,
    ErrorFrame,
    PingFrame,
    PongFrame,
    ReadyFrame,
    SendFrame,
    SubscribeFrame,
    TypingFrame,
    UnsubscribedFrame,
    UnsubscribeFrame,
    ack_frame,
    client_frame,
)
from parley.schemas.messages import SenderOut
from parley.schemas.users import UserOut
from parley.security.tokens import AccessClaims
from parley.services.access import require_member
from parley.services.messages import MessageService

__all__ = ["CLOSE_POLICY_VIOLATION", "CLOSE_UNAUTHORIZED", "SocketSession"]

log = logging.getLogger(__name__)

CLOSE_UNAUTHORIZED = 4001
CLOSE_POLICY_VIOLATION = 1008
# Bad frames in a row before a client is taken to be broken or hostile.
MAX_CONSECUTIVE_BAD_FRAMES = 10
CLOSE_TIMEOUT_SECONDS = 10


class SocketSession:
    """One socket's life in one task: frames are read and handled here, while the
    connection's outbox (with a writer task of its own while the socket is busy) sends what
    the hub delivers."""

    __slots__ = (
        "_account",
        "_bad_frames",
        "_claims",
        "_deadline",
        "_sender",
        "_state",
        "_typing_quiet_until",
        "_websocket",
        "connection",
        "user",
    )

    def __init__(
        self,
        state: AppState,
        websocket: WebSocket,
        send: AsgiSend,
        account: User,
        claims: AccessClaims,
    ) -> None:
        self._state = state
        self._websocket = websocket
        # Loaded once at authentication and kept: a send needs no read of its own user.
        self._account = account
        self.user = user = UserOut.model_validate(account)
        self._sender = SenderOut(id=user.id, username=user.username, display_name=user.display_name)
        self._claims = claims
        self._bad_frames = 0
        self._typing_quiet_until = 0.0  # the event loop's clock; see _typing
        # Ends the receive loop: when the token expires, or sooner when the connection closes.
        self._deadline: asyncio.Timeout | None = None
        connection_id = uuid.uuid4()
        # Set before the connection exists, which copies this context for its writer's logs.
        log_context.set({"connection_id": connection_id.hex, "user_id": user.id.hex})
        self.connection = Connection(
            connection_id,
            send,
            user.id,
            state.history,
            max_queue=state.settings.ws_send_queue,
            on_delivered=state.metrics.delivered,
            on_close=self._stop_receiving,
            write_now=write_now_of(websocket.scope),
        )

    async def run(self) -> None:
        hub, connection = self._state.hub, self.connection
        self._state.metrics.sockets.inc()
        try:
            await hub.register(connection)
            # Only now: from ``ready`` on, the client misses none of its user's events (a
            # room it is added to, say), whichever instance the change was made on.
            connection.send(ReadyFrame(user=self.user).model_dump_json())
            await self._presence(online=True)
            await self._receive_until_closed()
        finally:
            self._state.metrics.sockets.dec()
            connection.close(None)  # ends its writer, whatever ended the session
            await hub.unregister(connection)
            await self._presence(online=False)
            await self._close()

    async def _presence(self, *, online: bool) -> None:
        # Presence is a courtesy: a socket works on while Redis is briefly away.
        tracker = self._state.presence
        try:
            if online:
                await tracker.connected(self.connection, self._sender)
            else:
                await tracker.disconnected(self.connection, self._sender)
        except Exception:
            log.warning("presence update failed", exc_info=True)

    async def _close(self) -> None:
        code = self.connection.close_code
        if code is None or self._websocket.application_state is WebSocketState.DISCONNECTED:
            return
        # A client that stopped reading cannot take even the close frame: give up after a
        # while, and the server drops the connection.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CLOSE_TIMEOUT_SECONDS):
                await self._websocket.close(code, self.connection.close_reason)

    # --- receiving -----------------------------------------------------------------------

    async def _receive_until_closed(self) -> None:
        if self.connection.closed:
            return  # closed (a shutdown, say) while the session was starting
        try:
            async with asyncio.timeout_at(self._token_deadline()) as deadline:
                self._deadline = deadline
                await self._receive_guarded()
        except TimeoutError:
            # The token expired, or close() ended the loop (and its code stands).
            self.connection.close(CLOSE_UNAUTHORIZED, "access token expired")
        finally:
            self._deadline = None

    def _stop_receiving(self) -> None:
        """The connection closed: end the receive loop now, wherever it waits."""
        deadline = self._deadline
        if deadline is not None and not deadline.expired():
            deadline.reschedule(asyncio.get_running_loop().time())

    def _token_deadline(self) -> float:
        """When the access token expires, in the event loop's clock."""
        remaining = (self._claims.expires_at - datetime.now(UTC)).total_seconds()
        return asyncio.get_running_loop().time() + remaining

    async def _receive_guarded(self) -> None:
        """Run the receive loop; however it ends, close the connection with a fitting code."""
        try:
            await self._receive_loop()
        except (WebSocketDisconnect, OSError):
            self.connection.close(None)
        except RuntimeError as error:  # Starlette: receiving on a socket already closed
            log.debug("socket gone: %s", error)
            self.connection.close(None)
        except Exception:
            log.exception("socket loop failed")
            self.connection.close(CLOSE_INTERNAL_ERROR, "internal error")
        else:
            self.connection.close(None)

    async def _receive_loop(self) -> None:
        # Checked before every frame: a handler may close the connection (a reply that
        # overflows the outbox), and frames already buffered are read without a pause in
        # which the deadline could end the loop.
        while not self.connection.closed:
            message = await self._websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                self._bad_frame("Frames are JSON text, not binary.", ref=None)
            else:
                await self._handle(text)

    async def _handle(self, text: str) -> None:
        try:
            raw = orjson.loads(text)
        except orjson.JSONDecodeError:
            self._bad_frame("The frame is not valid JSON.", ref=None)
            return
        ref = raw.get("client_id") if isinstance(raw, dict) else None
        ref = ref if isinstance(ref, str) else None
        try:
            frame = client_frame.validate_python(raw)
        except ValidationError as error:
            self._bad_frame(_describe(error), ref=ref)
            return
        self._bad_frames = 0
        try:
            match frame:
                case SendFrame():
                    await self._send(frame)
                case SubscribeFrame():
                    await self._subscribe(frame)
                case UnsubscribeFrame():
                    await self._state.hub.leave_room(self.connection, frame.room_id)
                    self.connection.send(UnsubscribedFrame(room_id=frame.room_id).model_dump_json())
                case TypingFrame():
                    await self._typing(frame)
                case PingFrame():
                    self.connection.send(PongFrame().model_dump_json())
                case AuthFrame():
                    await self._reauthenticate(frame)
        except ParleyError as error:
            self._error(error.code, error.detail, ref)
        except DATABASE_UNREACHABLE:
            log.warning("database unavailable while handling a %s frame", frame.type)
            self._error("unavailable", "The database is unreachable; try again shortly.", ref)
        except RedisError:
            log.warning("redis unavailable while handling a %s frame", frame.type)
            self._error("unavailable", "A server component is unreachable; try again.", ref)

    # --- frame handlers ---------------------------------------------------------------

    async def _send(self, frame: SendFrame) -> None:
        await self._state.enforce(self._state.rules.messages, f"user:{self.user.id}")
        async with self._state.unit_of_work() as uow:
            posted = await MessageService(uow, self._state.events, self._state.appends).post(
                self._account, frame.room_id, frame.body, frame.client_id
            )
        self.connection.send(ack_frame(frame.client_id, posted.message))

    async def _subscribe(self, frame: SubscribeFrame) -> None:
        await self._require_member(frame.room_id)
        # Replaces a subscription the socket had to the room: subscribing again restarts it.
        await self._state.hub.join_room(self.connection, frame.room_id, frame.since_seq)

    async def _typing(self, frame: TypingFrame) -> None:
        # Past its limit a typing is dropped silently: a hint, not worth an error frame. Until
        # the limiter's wait is over, this socket drops them without asking it again, so that
        # a flood costs a count in Redis per window rather than per frame (and no room read).
        now = asyncio.get_running_loop().time()
        if now < self._typing_quiet_until:
            return
        wait = await self._state.limiter.hit(self._state.rules.typing, f"user:{self.user.id}")
        if wait is not None:
            self._typing_quiet_until = now + wait
            return
        if not self.connection.is_subscribed(frame.room_id):
            await self._require_member(frame.room_id)
        await self._state.events.typing(frame.room_id, self._sender)

    async def _reauthenticate(self, frame: AuthFrame) -> None:
        claims = self._state.access_tokens.decode(frame.token)
        if claims.user_id != self.user.id:
            self.connection.close(CLOSE_UNAUTHORIZED, "a socket belongs to one user")
            return
        if self.connection.closed:
            return  # a closed socket is not brought back by a fresh token
        self._claims = claims
        if self._deadline is not None and not self._deadline.expired():
            self._deadline.reschedule(self._token_deadline())
        self.connection.send(ReadyFrame(user=self.user).model_dump_json())

    async def _require_member(self, room_id: uuid.UUID) -> None:
        async with self._state.read_session_factory() as session:
            await require_member(session, room_id, self.user.id)

    # --- errors -----------------------------------------------------------------------

    def _bad_frame(self, detail: str, ref: str | None) -> None:
        self._bad_frames += 1
        if self._bad_frames >= MAX_CONSECUTIVE_BAD_FRAMES:
            self.connection.close(CLOSE_POLICY_VIOLATION, "too many malformed frames")
            return
        self._error("bad_request", detail, ref)

    def _error(self, code: str, detail: str, ref: str | None) -> None:
        frame = ErrorFrame(code=code, detail=detail, ref=ref)
        self.connection.send(frame.model_dump_json())


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "frame"
    return f"{where}: {first['msg']}"
