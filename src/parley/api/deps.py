"""FastAPI dependencies, exposed as ``Annotated`` aliases that routers put in signatures."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, cast

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from parley.composition.state import AppState
from parley.core.errors import NotAuthenticated
from parley.db.models import User
from parley.db.unit_of_work import UnitOfWork
from parley.services.access import account_of
from parley.services.auth import AuthService
from parley.services.message_history import MessageHistory
from parley.services.messages import MessageService
from parley.services.rooms import RoomService

__all__ = [
    "AuthServiceDep",
    "CallerId",
    "CurrentUser",
    "MessageHistoryDep",
    "MessageServiceDep",
    "RoomServiceDep",
    "SignedInUser",
    "StateDep",
    "UnitOfWorkDep",
]


# Dependencies are ``async def`` even when they never await: FastAPI runs a plain ``def``
# dependency in a worker thread, a thread hop per request for what is an attribute read.
async def get_state(connection: HTTPConnection) -> AppState:
    return cast("AppState", connection.state.parley)


StateDep = Annotated[AppState, Depends(get_state)]


async def open_unit_of_work(
    state: StateDep, connection: HTTPConnection
) -> AsyncIterator[UnitOfWork]:
    # GET and HEAD endpoints only read: their unit of work runs its statements in autocommit.
    read_only = connection.scope.get("method") in {"GET", "HEAD"}
    async with state.unit_of_work(read_only=read_only) as uow:
        yield uow


# scope="function": the transaction commits when the endpoint returns, before the response
# is sent, so a client never sees a 201 for something that then fails to commit.
UnitOfWorkDep = Annotated[UnitOfWork, Depends(open_unit_of_work, scope="function")]

_bearer = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


async def current_user(
    token: Annotated[str | None, Depends(_bearer)], state: StateDep, uow: UnitOfWorkDep
) -> User:
    return await _user_of(token, state, uow.session)


CurrentUser = Annotated[User, Depends(current_user)]


async def caller_id(token: Annotated[str | None, Depends(_bearer)], state: StateDep) -> uuid.UUID:
    """The caller's id from a verified access token, without reading the account: for reads
    whose query checks what the caller may see by itself (a membership, say)."""
    return _verified_user_id(token, state)


CallerId = Annotated[uuid.UUID, Depends(caller_id)]


async def signed_in_user(token: Annotated[str | None, Depends(_bearer)], state: StateDep) -> User:
    """The caller, read in a session of its own that closes at once: for endpoints that
    must not hold a transaction open (an upload streaming in)."""
    async with state.read_session_factory() as session:
        return await _user_of(token, state, session)


SignedInUser = Annotated[User, Depends(signed_in_user)]


def _verified_user_id(token: str | None, state: AppState) -> uuid.UUID:
    if token is None:
        raise NotAuthenticated("Sign in: this endpoint needs a bearer access token.")
    return state.access_tokens.decode(token).user_id


async def _user_of(token: str | None, state: AppState, session: AsyncSession) -> User:
    return await account_of(session, _verified_user_id(token, state))


async def auth_service(state: StateDep, uow: UnitOfWorkDep) -> AuthService:
    return AuthService(
        uow,
        reads=state.read_session_factory,
        passwords=state.passwords,
        access_tokens=state.access_tokens,
        refresh_ttl_seconds=state.settings.refresh_token_ttl,
    )


AuthServiceDep = Annotated[AuthService, Depends(auth_service)]


async def room_service(state: StateDep, uow: UnitOfWorkDep) -> RoomService:
    return RoomService(uow, state.events)


RoomServiceDep = Annotated[RoomService, Depends(room_service)]


async def message_service(state: StateDep, uow: UnitOfWorkDep) -> MessageService:
    return MessageService(uow, state.events)


MessageServiceDep = Annotated[MessageService, Depends(message_service)]


async def message_history(state: StateDep) -> MessageHistory:
    return MessageHistory(state.pages, state.read_session_factory)


MessageHistoryDep = Annotated[MessageHistory, Depends(message_history)]
