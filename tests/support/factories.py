"""Plain async factories for test data, through the public API like a real client."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx

__all__ = ["Account", "create_account", "unique_username"]

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
