"""A room's messages: history, posting, editing, deleting."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from parley.api.deps import CallerId, CurrentUser, MessageHistoryDep, MessageServiceDep, StateDep
from parley.api.responses import AUTHENTICATED, error
from parley.core.errors import BadRequest
from parley.db.message_record import MessageRecord
from parley.schemas.messages import (
    MAX_SEQ,
    MessageCreate,
    MessageEdit,
    MessageOut,
    MessagePage,
    message_json,
    message_page_json,
)

__all__ = ["router"]

router = APIRouter(prefix="/rooms/{room_id}/messages", tags=["messages"], responses=AUTHENTICATED)

_NOT_FOUND = error(404, "No such room or message, or you are not a member (`not_found`)")
_FORBIDDEN = error(403, "Not your message (`forbidden`)")
_LIMITED = error(429, "Sending or editing too fast; see `Retry-After` (`rate_limited`)")


@router.get(
    "",
    response_model=MessagePage,
    summary="A page of history, ascending by seq",
    description=(
        "With `after_seq`, the oldest messages after it; with `before_seq`, the newest before "
        "it; with neither, the newest. `has_more` says whether the page stops short."
    ),
    responses=_NOT_FOUND | error(400, "`after_seq` and `before_seq` together (`bad_request`)"),
)
async def history(
    room_id: uuid.UUID,
    caller: CallerId,
    messages: MessageHistoryDep,
    after_seq: Annotated[int | None, Query(ge=0, le=MAX_SEQ)] = None,
    before_seq: Annotated[int | None, Query(ge=1, le=MAX_SEQ)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Response:
    if after_seq is not None and before_seq is not None:
        raise BadRequest("Give after_seq or before_seq, not both.")
    page = await messages.page(
        caller, room_id, after_seq=after_seq, before_seq=before_seq, limit=limit
    )
    # The records are already in MessagePage's shape: written out as they are, not validated
    # again. So are single messages below; the OpenAPI document still shows the models.
    body = message_page_json(page.items, has_more=page.has_more)
    return Response(body, media_type="application/json")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=MessageOut,
    summary="Post a message",
    description=(
        "Posting again with a `client_id` you already used in this room stores nothing and "
        "answers the first message (also 201), so a client can retry safely."
    ),
    responses=_NOT_FOUND | _LIMITED,
)
async def post_message(
    room_id: uuid.UUID,
    body: MessageCreate,
    user: CurrentUser,
    messages: MessageServiceDep,
    state: StateDep,
) -> Response:
    await state.enforce(state.rules.messages, f"user:{user.id}")
    posted = await messages.post(user, room_id, body.body, body.client_id)
    return _message_response(posted.message, status.HTTP_201_CREATED)


@router.patch(
    "/{message_id}",
    response_model=MessageOut,
    summary="Edit your message",
    description="An edit counts against the same limit as a send.",
    responses=_NOT_FOUND | _FORBIDDEN | _LIMITED,
)
async def edit_message(
    room_id: uuid.UUID,
    message_id: uuid.UUID,
    body: MessageEdit,
    user: CurrentUser,
    messages: MessageServiceDep,
    state: StateDep,
) -> Response:
    # Each edit is fanned out like a message: counted with the sends.
    await state.enforce(state.rules.messages, f"user:{user.id}")
    edited = await messages.edit(user, room_id, message_id, body.body)
    return _message_response(edited, status.HTTP_200_OK)


@router.delete(
    "/{message_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a message (its sender, or the room's owner)",
    responses=_NOT_FOUND | _FORBIDDEN,
)
async def delete_message(
    room_id: uuid.UUID, message_id: uuid.UUID, user: CurrentUser, messages: MessageServiceDep
) -> None:
    await messages.delete(user, room_id, message_id)


def _message_response(message: MessageRecord, status_code: int) -> Response:
    return Response(message_json(message), status_code, media_type="application/json")
