"""``/ws``: authenticate the first frame, then run one socket's session."""

from __future__ import annotations

import asyncio
import logging
from typing import cast

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send

from parley.api.error_handlers import error_response
from parley.api.socket_session import CLOSE_UNAUTHORIZED, SocketSession
from parley.composition.state import AppState
from parley.core.errors import NotAuthenticated, RateLimited
from parley.db.models import User
from parley.db.outage import DATABASE_UNREACHABLE
from parley.realtime.connection import CLOSE_TRY_AGAIN_LATER
from parley.realtime.frames import AuthFrame, client_frame
from parley.security.tokens import AccessClaims
from parley.services.access import account_of

__all__ = ["router"]

log = logging.getLogger(__name__)

AUTH_TIMEOUT_SECONDS = 10


class _SocketEndpoint:
    """A plain ASGI app rather than a FastAPI endpoint, for two reasons that every socket
    pays for: its frames go to the server's ``send`` itself (a FastAPI endpoint only gets
    Starlette's wrapper, which re-checks the socket's state on every frame), and its
    coroutine does not sit on top of FastAPI's dependency machinery for the socket's life.
    The handshake, the first frame and the close still go through Starlette's ``WebSocket``.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        state = cast("AppState", websocket.state.parley)  # the lifespan's, as for any request
        address = websocket.client.host if websocket.client else "unknown"
        try:
            await state.enforce(state.rules.connections, f"address:{address}")
        except RateLimited as limited:
            # Refused at the handshake, as an HTTP 429 the client can read.
            retry_after = {"Retry-After": str(limited.retry_after)}
            await websocket.send_denial_response(
                error_response(429, limited.code, limited.detail, headers=retry_after)
            )
            return
        await websocket.accept()
        authenticated = await _authenticate(websocket, state)
        if authenticated is None:
            return
        account, claims = authenticated
        session = SocketSession(state, websocket, send, account, claims)
        await session.run()  # answers ``ready`` once the socket gets its user's events


_NOT_AN_AUTH_FRAME = "the first frame must be an auth frame"

router = APIRouter()
router.routes.append(WebSocketRoute("/ws", _SocketEndpoint(), name="websocket"))


async def _authenticate(websocket: WebSocket, state: AppState) -> tuple[User, AccessClaims] | None:
    """The first frame must be a valid ``auth`` within 10 s; anything else closes with 4001."""
    try:
        async with asyncio.timeout(AUTH_TIMEOUT_SECONDS):
            text = await websocket.receive_text()
    except WebSocketDisconnect:
        return None
    except TimeoutError:
        await websocket.close(CLOSE_UNAUTHORIZED, "no auth frame within 10 seconds")
        return None
    except (KeyError, RuntimeError):  # a binary frame, or the socket no longer open
        await websocket.close(CLOSE_UNAUTHORIZED, _NOT_AN_AUTH_FRAME)
        return None
    try:
        return await _verify(text, state)
    except NotAuthenticated as error:
        await websocket.close(CLOSE_UNAUTHORIZED, error.detail[:120])
    except ValueError:
        await websocket.close(CLOSE_UNAUTHORIZED, _NOT_AN_AUTH_FRAME)
    except DATABASE_UNREACHABLE:
        # The account could not be read: not the client's fault, and worth trying again.
        log.warning("database unavailable while authenticating a socket")
        await websocket.close(CLOSE_TRY_AGAIN_LATER, "database unavailable: try again")
    return None


async def _verify(text: str, state: AppState) -> tuple[User, AccessClaims]:
    frame = client_frame.validate_json(text)
    if not isinstance(frame, AuthFrame):
        raise NotAuthenticated("The first frame must be an auth frame.")
    claims = state.access_tokens.decode(frame.token)
    async with state.read_session_factory() as session:
        return await account_of(session, claims.user_id), claims
