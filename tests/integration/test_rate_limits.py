"""Each limit trips with the contract's answer and resets; on Redis, instances share them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from parley.core.settings import RateLimitMode, Settings
from tests.support.factories import create_account, create_room
from tests.support.processes import Cluster
from tests.support.servers import serve_in_process
from tests.support.ws import WsClient

SHARED_REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def limited(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    strict = settings.model_copy(
        update={
            "rate_limits": RateLimitMode.ON,
            "rate_limit_login": "3/2 seconds",
            "rate_limit_messages": "3/2 seconds",
            "rate_limit_uploads": "2/2 seconds",
            "rate_limit_connections": "3/2 seconds",
        }
    )
    async with (
        serve_in_process(strict) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        yield client


async def test_sign_in_attempts_trip_and_reset(limited: httpx.AsyncClient) -> None:
    account = await create_account(limited)  # one login spent
    body = {"username": account.username, "password": "wrong password"}
    answers = [await limited.post("/api/auth/login", json=body) for _ in range(3)]
    assert [a.status_code for a in answers] == [401, 401, 429]
    refused = answers[-1]
    assert refused.json()["error"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 2
    # The OAuth2 form counts as a sign-in too.
    form = await limited.post("/api/auth/token", data=body)
    assert form.status_code == 429
    await asyncio.sleep(2.1)
    again = {"username": account.username, "password": account.password}
    assert (await limited.post("/api/auth/login", json=again)).status_code == 200


async def test_message_sends_trip_on_rest_and_websocket_together(
    limited: httpx.AsyncClient,
) -> None:
    account = await create_account(limited)
    room_id = (await create_room(limited, account))["id"]
    url = f"/api/rooms/{room_id}/messages"
    for n in range(2):
        posted = await limited.post(url, json={"body": f"m{n}"}, headers=account.headers)
        assert posted.status_code == 201
    socket = await WsClient.authenticated(str(limited.base_url), account.access_token)
    await socket.send({"type": "send", "room_id": room_id, "body": "third", "client_id": "c3"})
    assert (await socket.recv_type("ack", "error"))["type"] == "ack"
    await socket.send({"type": "send", "room_id": room_id, "body": "fourth", "client_id": "c4"})
    error = await socket.recv_type("ack", "error")
    assert (error["type"], error["code"], error["ref"]) == ("error", "rate_limited", "c4")
    rest = await limited.post(url, json={"body": "fifth"}, headers=account.headers)
    assert rest.status_code == 429
    await socket.send({"type": "ping"})
    assert (await socket.recv_type("pong"))["type"] == "pong"  # the socket stays open
    await asyncio.sleep(2.1)
    await socket.send({"type": "send", "room_id": room_id, "body": "later", "client_id": "c5"})
    assert (await socket.recv_type("ack", "error"))["type"] == "ack"
    history = (await limited.get(url, headers=account.headers)).json()["items"]
    assert [m["body"] for m in history] == ["m0", "m1", "third", "later"]


async def test_uploads_trip_and_reset(limited: httpx.AsyncClient) -> None:
    account = await create_account(limited)
    room_id = (await create_room(limited, account))["id"]

    async def upload() -> httpx.Response:
        return await limited.post(
            f"/api/rooms/{room_id}/uploads",
            files={"file": ("a.txt", b"hello\n", "text/plain")},
            headers=account.headers,
        )

    statuses = [(await upload()).status_code for _ in range(3)]
    assert statuses == [202, 202, 429]
    await asyncio.sleep(2.1)
    assert (await upload()).status_code == 202


async def test_new_connections_trip_at_the_handshake(limited: httpx.AsyncClient) -> None:
    account = await create_account(limited)
    for _ in range(3):
        await WsClient.authenticated(str(limited.base_url), account.access_token)
    with pytest.raises(InvalidStatus) as refused:
        await WsClient.open(str(limited.base_url))
    assert refused.value.response.status_code == 429
    await asyncio.sleep(2.1)
    await WsClient.authenticated(str(limited.base_url), account.access_token)


async def test_two_instances_share_their_limits(postgres_url: str, tmp_path: Path) -> None:
    cluster = Cluster(
        postgres_url,
        SHARED_REDIS_URL,
        tmp_path,
        extra_env={
            "PARLEY_RATE_LIMITS": "on",
            "PARLEY_RATE_LIMIT_LOGIN": "4/minute",
            "PARLEY_RATE_LIMIT_MESSAGES": "3/minute",
            "PARLEY_RATE_LIMIT_UPLOADS": "2/minute",
            "PARLEY_RATE_LIMIT_CONNECTIONS": "3/minute",
        },
    )
    await cluster.start(2)
    try:
        async with (
            httpx.AsyncClient(base_url=cluster.url(0), timeout=30) as first,
            httpx.AsyncClient(base_url=cluster.url(1), timeout=30) as second,
        ):
            account = await create_account(first)  # one sign-in on the first instance
            body = {"username": account.username, "password": account.password}
            assert (await first.post("/api/auth/login", json=body)).status_code == 200
            assert (await second.post("/api/auth/login", json=body)).status_code == 200
            assert (await second.post("/api/auth/login", json=body)).status_code == 200
            # The fifth, on either instance, is one too many for the cluster.
            assert (await first.post("/api/auth/login", json=body)).status_code == 429
            assert (await second.post("/api/auth/login", json=body)).status_code == 429

            room_id = (await create_room(first, account))["id"]
            url = f"/api/rooms/{room_id}/messages"
            sends = [
                await client.post(url, json={"body": "x"}, headers=account.headers)
                for client in (first, second, first, second)
            ]
            assert [r.status_code for r in sends] == [201, 201, 201, 429]

            files = {"file": ("a.txt", b"hello\n", "text/plain")}
            uploads = [
                await client.post(
                    f"/api/rooms/{room_id}/uploads", files=files, headers=account.headers
                )
                for client in (first, second, first)
            ]
            assert [r.status_code for r in uploads] == [202, 202, 429]

            for url_ in (cluster.url(0), cluster.url(1), cluster.url(0)):
                await WsClient.authenticated(url_, account.access_token)
            with pytest.raises(InvalidStatus) as refused:
                await WsClient.open(cluster.url(1))
            assert refused.value.response.status_code == 429
    finally:
        await cluster.close()
