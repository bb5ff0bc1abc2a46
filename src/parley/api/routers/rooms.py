"""Rooms, their members, and direct-message rooms."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from parley.api.deps import CurrentUser, RoomServiceDep, StateDep
from parley.api.responses import AUTHENTICATED, Responses, error
from parley.db.models import Room, User
from parley.schemas.rooms import (
    AddMemberRequest,
    DirectRoomRequest,
    RoomCreate,
    RoomDetail,
    RoomOut,
    RoomRename,
)
from parley.schemas.users import UserOut

__all__ = ["router"]

router = APIRouter(tags=["rooms"], responses=AUTHENTICATED)

_NOT_FOUND = error(404, "No such room, or you are not a member (`not_found`)")
_FORBIDDEN = error(403, "You may not do this in this room (`forbidden`)")
_CREATED_NOW: Responses = {201: {"model": RoomOut, "description": "The room was made now"}}
_LIMITED = error(429, "Too many rooms made or members added; see `Retry-After` (`rate_limited`)")


def _detail(room: Room, members: list[User]) -> RoomDetail:
    return RoomDetail(
        **RoomOut.model_validate(room).model_dump(),
        members=[UserOut.model_validate(member) for member in members],
    )


@router.post(
    "/rooms", status_code=status.HTTP_201_CREATED, summary="Create a room", responses=_LIMITED
)
async def create_room(
    body: RoomCreate, user: CurrentUser, rooms: RoomServiceDep, state: StateDep
) -> RoomOut:
    await state.enforce(state.rules.rooms, f"user:{user.id}")
    room = await rooms.create(user, body.name, is_private=body.is_private)
    return RoomOut.model_validate(room)


@router.get("/rooms", summary="The rooms you are a member of")
async def my_rooms(user: CurrentUser, rooms: RoomServiceDep) -> list[RoomOut]:
    return [RoomOut.model_validate(room) for room in await rooms.mine(user)]


@router.get("/rooms/public", summary="Public rooms anyone may join")
async def public_rooms(_user: CurrentUser, rooms: RoomServiceDep) -> list[RoomOut]:
    return [RoomOut.model_validate(room) for room in await rooms.public()]


@router.get("/rooms/{room_id}", summary="A room with its members", responses=_NOT_FOUND)
async def get_room(room_id: uuid.UUID, user: CurrentUser, rooms: RoomServiceDep) -> RoomDetail:
    room = await rooms.get(user, room_id)
    return _detail(room, list(await rooms.members(room)))


@router.get(
    "/rooms/{room_id}/presence",
    summary="The members online now, on any instance",
    responses=_NOT_FOUND,
)
async def presence(
    room_id: uuid.UUID, user: CurrentUser, rooms: RoomServiceDep, state: StateDep
) -> list[UserOut]:
    online = await rooms.online_members(user, room_id, state.presence.presence)
    return [UserOut.model_validate(member) for member in online]


@router.patch(
    "/rooms/{room_id}", summary="Rename a room (owner only)", responses=_NOT_FOUND | _FORBIDDEN
)
async def rename_room(
    room_id: uuid.UUID, body: RoomRename, user: CurrentUser, rooms: RoomServiceDep
) -> RoomOut:
    return RoomOut.model_validate(await rooms.rename(user, room_id, body.name))


@router.post("/rooms/{room_id}/join", summary="Join a public room", responses=_NOT_FOUND)
async def join_room(room_id: uuid.UUID, user: CurrentUser, rooms: RoomServiceDep) -> RoomOut:
    return RoomOut.model_validate(await rooms.join(user, room_id))


@router.post(
    "/rooms/{room_id}/members",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Add a member (the owner; any member of a public room)",
    responses=_NOT_FOUND | _FORBIDDEN | _LIMITED,
)
async def add_member(
    room_id: uuid.UUID,
    body: AddMemberRequest,
    user: CurrentUser,
    rooms: RoomServiceDep,
    state: StateDep,
) -> None:
    await state.enforce(state.rules.members, f"user:{user.id}")
    await rooms.add_member(user, room_id, body.username)


@router.delete(
    "/rooms/{room_id}/members/me",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Leave a room",
    responses=_NOT_FOUND,
)
async def leave_room(room_id: uuid.UUID, user: CurrentUser, rooms: RoomServiceDep) -> None:
    await rooms.leave(user, room_id)


@router.post(
    "/dm",
    summary="The direct-message room of you and another user, made on first use",
    responses=_CREATED_NOW
    | error(400, "The other user is you (`bad_request`)")
    | error(404, "No such user (`not_found`)")
    | _LIMITED,
)
async def direct_room(
    body: DirectRoomRequest,
    user: CurrentUser,
    rooms: RoomServiceDep,
    state: StateDep,
    response: Response,
) -> RoomOut:
    direct = await rooms.direct(user, body.username)
    if direct.created:
        # Only a new room counts, like POST /rooms; refused, the unit of work rolls it back.
        await state.enforce(state.rules.rooms, f"user:{user.id}")
    response.status_code = status.HTTP_201_CREATED if direct.created else status.HTTP_200_OK
    return RoomOut.model_validate(direct.room)
