"""The examples in docs/protocol.md are what the server really sends."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

from tests.support.factories import create_account, create_room
from tests.support.ws import WsClient

PROTOCOL = Path(__file__).parents[2] / "docs" / "protocol.md"


def _documented_frame(type_: str, code: str) -> dict[str, object]:
    for block in re.findall(r"```json\n(.*?)\n```", PROTOCOL.read_text(), re.DOTALL):
        frame = json.loads(block)
        if frame.get("type") == type_ and frame.get("code") == code:
            return dict(frame)
    msg = f"docs/protocol.md shows no {type_} frame with code {code}"
    raise AssertionError(msg)


async def test_the_documented_error_frame_is_the_one_sent(
    client: httpx.AsyncClient, server_url: str
) -> None:
    documented = _documented_frame("error", "bad_request")
    account = await create_account(client)
    room = await create_room(client, account)
    socket = await WsClient.authenticated(server_url, account.access_token)
    await socket.send(
        {"type": "send", "room_id": room["id"], "body": "", "client_id": documented["ref"]}
    )
    assert await socket.recv_type("error") == documented
