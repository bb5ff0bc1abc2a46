"""``/ws``: authenticate the first frame, then run one socket's receive and send loops."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from parley.api.deps import StateDep
from parley.api.error_handlers import error_response
from parley.api.socket_session import CLOSE_UNAUTHORIZED, SocketSession
from parley.core.errors import NotAuthenticated, RateLimited
from parley.db.models import User
from parley.realtime.frames import AuthFrame, ReadyFrame, client_frame
from parley.repositories.users import UserRepository
from parley.security.tokens import AccessClaims
from parley.state import AppState

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter()

AUTH_TIMEOUT_SECONDS = 10


@router.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket, state: StateDep) -> None:
    address = websocket.client.host if websocket.client else "unknown"
    try:
        await state.enforce(state.rules.connections, f"address:{address}")
    except RateLimited as limited:
        # Refused at the handshake, as an HTTP 429 the client can read.
        await websocket.send_denial_response(
            error_response(
                429, limited.code, limited.detail, headers={"Retry-After": str(limited.retry_after)}
            )
        )
        return
    await websocket.accept()
    authenticated = await _authenticate(websocket, state)
    if authenticated is None:
        return
    account, claims = authenticated
    session = SocketSession(state, websocket, account, claims)
    await websocket.send_text(ReadyFrame(user=session.user).model_dump_json())
    await session.run()


async def _authenticate(websocket: WebSocket, state: AppState) -> tuple[User, AccessClaims] | None:
    """The first frame must be a valid ``auth`` within 10 s; anything else closes with 4001."""
    try:
        async with asyncio.timeout(AUTH_TIMEOUT_SECONDS):
            text = await websocket.receive_text()
        return await _verify(text, state)
    except WebSocketDisconnect:
        return None
    except TimeoutError:
        await websocket.close(CLOSE_UNAUTHORIZED, "no auth frame within 10 seconds")
    except NotAuthenticated as error:
        await websocket.close(CLOSE_UNAUTHORIZED, error.detail[:120])
    except (ValueError, KeyError, RuntimeError):
        await websocket.close(CLOSE_UNAUTHORIZED, "the first frame must be an auth frame")
    return None


async def _verify(text: str, state: AppState) -> tuple[User, AccessClaims]:
    frame = client_frame.validate_json(text)
    if not isinstance(frame, AuthFrame):
        raise NotAuthenticated("The first frame must be an auth frame.")
    claims = state.access_tokens.decode(frame.token)
    async with state.session_factory() as session:
        user = await UserRepository(session).get(claims.user_id)
    if user is None:
        raise NotAuthenticated("The account behind this token no longer exists.")
    return user, claims
