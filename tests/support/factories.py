"""Plain async factories for test data, through the public API like a real client."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, TypeAlias

import httpx

__all__ = [
    "Account",
    "Json",
    "create_account",
    "create_room",
    "messages_of",
    "post_message",
    "unique_username",
]

Json: TypeAlias = dict[str, Any]

DEFAULT_PASSWORD = "correct horse battery"


@dataclass
class Account:
    id: str
    username: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def unique_username(prefix: str = "user") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


async def create_account(
    client: httpx.AsyncClient, username: str | None = None, password: str = DEFAULT_PASSWORD
) -> Account:
    username = username or unique_username()
    registered = await client.post(
        "/api/auth/register", json={"username": username, "password": password}
    )
    assert registered.status_code == 201, registered.text
    tokens = await client.post("/api/auth/login", json={"username": username, "password": password})
    assert tokens.status_code == 200, tokens.text
    return Account(
        id=registered.json()["id"],
        username=registered.json()["username"],
        password=password,
        access_token=tokens.json()["access_token"],
        refresh_token=tokens.json()["refresh_token"],
    )


async def create_room(
    client: httpx.AsyncClient, owner: Account, name: str = "general", *, is_private: bool = False
) -> Json:
    response = await client.post(
        "/api/rooms", json={"name": name, "is_private": is_private}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    room: Json = response.json()
    return room


async def post_message(
    client: httpx.AsyncClient, account: Account, room_id: object, body: str = "hello"
) -> Json:
    response = await client.post(
        f"/api/rooms/{room_id}/messages", json={"body": body}, headers=account.headers
    )
    assert response.status_code == 201, response.text
    message: Json = response.json()
    return message


async def messages_of(
    client: httpx.AsyncClient, account: Account, room_id: object, **params: int
) -> list[Json]:
    response = await client.get(
        f"/api/rooms/{room_id}/messages", params=params, headers=account.headers
    )
    assert response.status_code == 200, response.text
    items: list[Json] = response.json()["items"]
    return items
