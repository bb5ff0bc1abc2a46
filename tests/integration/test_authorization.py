"""The authorization matrix: every route of the OpenAPI and every WebSocket frame type, tried
as anonymous, as a signed-in non-member, as a member and as the owner of a private room."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest

from tests.support.factories import Account, Json, create_account, create_room, post_message
from tests.support.files import png
from tests.support.uploads import finished_upload
from tests.support.ws import WsClient

ROLES = ("anonymous", "stranger", "member", "owner")
# The contract's error code for each refusal.
ERROR_CODES = {401: "unauthorized", 403: "forbidden", 404: "not_found"}


@dataclass
class World:
    owner: Account
    member: Account
    stranger: Account
    room_id: str
    message_id: str  # the member's
    upload_id: str  # the member's image, processed

    def headers(self, role: str) -> dict[str, str]:
        account = {"owner": self.owner, "member": self.member, "stranger": self.stranger}.get(role)
        return account.headers if account else {}


@pytest.fixture
def database_url(postgres_url: str) -> str:
    """PostgreSQL only: access rules live in the services, not in the database engine."""
    return postgres_url


@pytest.fixture
async def people(client: httpx.AsyncClient) -> tuple[Account, Account, Account]:
    return await create_account(client), await create_account(client), await create_account(client)


async def make_world(client: httpx.AsyncClient, people: tuple[Account, Account, Account]) -> World:
    """A fresh private room of the owner's with the member in it, a message and a processed
    image of the member's; the stranger is signed in but not a member."""
    owner, member, stranger = people
    room_id = str((await create_room(client, owner, is_private=True))["id"])
    added = await client.post(
        f"/api/rooms/{room_id}/members", json={"username": member.username}, headers=owner.headers
    )
    assert added.status_code == 204
    message = await post_message(client, member, room_id, "the member's")
    upload = await client.post(
        f"/api/rooms/{room_id}/uploads",
        files={"file": ("p.png", png(), "image/png")},
        headers=member.headers,
    )
    upload_id = upload.json()["id"]
    assert (await finished_upload(client, member, upload_id))["status"] == "done"
    return World(owner, member, stranger, room_id, str(message["id"]), upload_id)


Call = Callable[[httpx.AsyncClient, World, str], Awaitable[httpx.Response]]


def _get(path: str) -> Call:
    async def call(client: httpx.AsyncClient, world: World, role: str) -> httpx.Response:
        return await client.get(_fill(path, world), headers=world.headers(role))

    return call


def _send(method: str, path: str, body: Json | None = None, *, files: bool = False) -> Call:
    async def call(client: httpx.AsyncClient, world: World, role: str) -> httpx.Response:
        kwargs: dict[str, object] = {"headers": world.headers(role)}
        if files:
            kwargs["files"] = {"file": ("a.txt", b"hello\n", "text/plain")}
        elif body is not None:
            kwargs["json"] = {
                k: _fill(v, world) if isinstance(v, str) else v for k, v in body.items()
            }
        return await client.request(method, _fill(path, world), **kwargs)  # type: ignore[arg-type]

    return call


def _fill(text: str, world: World) -> str:
    return (
        text.replace("{room_id}", world.room_id)
        .replace("{message_id}", world.message_id)
        .replace("{upload_id}", world.upload_id)
        .replace("{stranger}", world.stranger.username)
        .replace("{owner}", world.owner.username)
    )


# (method, OpenAPI path) -> (how to call it, expected status per role in ROLES order).
# Anything about a room answers a non-member 404, as if it did not exist.
MATRIX: dict[tuple[str, str], tuple[Call, tuple[int, int, int, int]]] = {
    ("GET", "/healthz"): (_get("/healthz"), (200, 200, 200, 200)),
    ("GET", "/readyz"): (_get("/readyz"), (200, 200, 200, 200)),
    ("GET", "/metrics"): (_get("/metrics"), (200, 200, 200, 200)),
    ("GET", "/api/users/me"): (_get("/api/users/me"), (401, 200, 200, 200)),
    ("POST", "/api/rooms"): (_send("POST", "/api/rooms", {"name": "x"}), (401, 201, 201, 201)),
    ("GET", "/api/rooms"): (_get("/api/rooms"), (401, 200, 200, 200)),
    ("GET", "/api/rooms/public"): (_get("/api/rooms/public"), (401, 200, 200, 200)),
    ("GET", "/api/rooms/{room_id}"): (_get("/api/rooms/{room_id}"), (401, 404, 200, 200)),
    ("PATCH", "/api/rooms/{room_id}"): (
        _send("PATCH", "/api/rooms/{room_id}", {"name": "renamed"}),
        (401, 404, 403, 200),
    ),
    ("GET", "/api/rooms/{room_id}/presence"): (
        _get("/api/rooms/{room_id}/presence"),
        (401, 404, 200, 200),
    ),
    ("POST", "/api/rooms/{room_id}/join"): (
        _send("POST", "/api/rooms/{room_id}/join"),
        (401, 404, 404, 404),  # private: nobody joins, members included; they were added
    ),
    ("POST", "/api/rooms/{room_id}/members"): (
        _send("POST", "/api/rooms/{room_id}/members", {"username": "{stranger}"}),
        (401, 404, 403, 204),
    ),
    ("DELETE", "/api/rooms/{room_id}/members/me"): (
        _send("DELETE", "/api/rooms/{room_id}/members/me"),
        (401, 404, 204, 204),
    ),
    ("POST", "/api/dm"): (_send("POST", "/api/dm", {"username": "{owner}"}), (401, 201, 201, 400)),
    ("GET", "/api/rooms/{room_id}/messages"): (
        _get("/api/rooms/{room_id}/messages"),
        (401, 404, 200, 200),
    ),
    ("POST", "/api/rooms/{room_id}/messages"): (
        _send("POST", "/api/rooms/{room_id}/messages", {"body": "hi"}),
        (401, 404, 201, 201),
    ),
    ("PATCH", "/api/rooms/{room_id}/messages/{message_id}"): (
        _send("PATCH", "/api/rooms/{room_id}/messages/{message_id}", {"body": "edited"}),
        (401, 404, 200, 403),  # only the sender edits
    ),
    ("DELETE", "/api/rooms/{room_id}/messages/{message_id}"): (
        _send("DELETE", "/api/rooms/{room_id}/messages/{message_id}"),
        (401, 404, 204, 204),  # the sender, or the owner
    ),
    ("POST", "/api/rooms/{room_id}/uploads"): (
        _send("POST", "/api/rooms/{room_id}/uploads", files=True),
        (401, 404, 202, 202),
    ),
    ("GET", "/api/uploads/{upload_id}"): (_get("/api/uploads/{upload_id}"), (401, 404, 200, 200)),
    ("GET", "/api/uploads/{upload_id}/file"): (
        _get("/api/uploads/{upload_id}/file"),
        (401, 404, 200, 200),
    ),
    ("GET", "/api/uploads/{upload_id}/thumbnail"): (
        _get("/api/uploads/{upload_id}/thumbnail"),
        (401, 404, 200, 200),
    ),
}

# Open to everyone by design; their own rules are tested in test_auth.py.
PUBLIC = {
    ("POST", "/api/auth/register"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/token"),
    ("POST", "/api/auth/refresh"),
    ("POST", "/api/auth/logout"),
}


async def test_the_matrix_covers_every_route(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    routes = {
        (method.upper(), path) for path, methods in schema["paths"].items() for method in methods
    }
    assert routes == set(MATRIX) | PUBLIC


@pytest.mark.parametrize("route", list(MATRIX), ids=lambda route: f"{route[0]} {route[1]}")
async def test_every_route_as_every_role(
    client: httpx.AsyncClient, people: tuple[Account, Account, Account], route: tuple[str, str]
) -> None:
    call, expected = MATRIX[route]
    for role, status in zip(ROLES, expected, strict=True):
        world = await make_world(client, people)  # a fresh one: some calls change things
        response = await call(client, world, role)
        assert response.status_code == status, (role, response.text)
        if status in ERROR_CODES:
            assert response.json()["error"] == ERROR_CODES[status], (role, response.text)


async def test_every_websocket_frame_as_every_role(
    client: httpx.AsyncClient, server_url: str, people: tuple[Account, Account, Account]
) -> None:
    world = await make_world(client, people)
    room = world.room_id
    anonymous = await WsClient.open(server_url)
    await anonymous.send({"type": "subscribe", "room_id": room})
    assert await anonymous.closed_with() == 4001  # nothing before auth

    frames: list[tuple[Json, str, str]] = [
        # (frame, what a non-member gets, what a member or owner gets)
        ({"type": "subscribe", "room_id": room}, "error:not_found", "subscribed"),
        (
            {"type": "send", "room_id": room, "body": "x", "client_id": "k"},
            "error:not_found",
            "ack",
        ),
        ({"type": "typing", "room_id": room}, "error:not_found", "pong"),
        ({"type": "unsubscribe", "room_id": room}, "unsubscribed", "unsubscribed"),
        ({"type": "ping"}, "pong", "pong"),
    ]
    for role in ("stranger", "member", "owner"):
        account = {"owner": world.owner, "member": world.member, "stranger": world.stranger}[role]
        socket = await WsClient.authenticated(server_url, account.access_token)
        for frame, as_stranger, as_member in frames:
            want = as_stranger if role == "stranger" else as_member
            outgoing = {**frame, "client_id": f"{role}-send"} if frame["type"] == "send" else frame
            await socket.send(outgoing)
            if frame["type"] == "typing" and role != "stranger":
                await socket.send({"type": "ping"})  # typing is answered to others only
            got = await socket.recv_type("error", "subscribed", "ack", "pong", "unsubscribed")
            seen = f"error:{got['code']}" if got["type"] == "error" else got["type"]
            assert seen == want, (role, frame, got)
        # A fresh auth frame for someone else is refused outright.
        other = world.stranger if role != "stranger" else world.owner
        await socket.send({"type": "auth", "token": other.access_token})
        assert await socket.closed_with() == 4001
