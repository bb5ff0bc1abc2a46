"""Each limit trips with the contract's answer and resets; on Redis, instances share them."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import limits.aio.storage.memory
import pytest
from websockets.exceptions import InvalidStatus

import parley.ratelimit
from parley.core.settings import RateLimitMode, Settings
from tests.support.clocks import FrozenClock
from tests.support.factories import create_account, create_room, unique_username
from tests.support.processes import Cluster
from tests.support.servers import serve_in_process
from tests.support.ws import WsClient

SHARED_REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    """The in-process rate limiter's clock, standing still: a burst of attempts falls in one
    window however slowly a busy machine makes them, and a window has passed when the test
    moves the clock on. (The ``limits`` package's memory storage reads ``time.time()``.)"""
    clock = FrozenClock(time.time())
    monkeypatch.setattr(limits.aio.storage.memory, "time", clock)
    monkeypatch.setattr(parley.ratelimit, "time", clock)
    return clock


@pytest.fixture
async def limited(settings: Settings, clock: FrozenClock) -> AsyncIterator[httpx.AsyncClient]:
    strict = settings.model_copy(
        update={
            "rate_limits": RateLimitMode.ON,
            "rate_limit_login": "3/2 seconds",
            "rate_limit_login_address": "5/minute",
            "rate_limit_register": "5/minute",
            "rate_limit_messages": "3/2 seconds",
            "rate_limit_uploads": "2/2 seconds",
            "rate_limit_connections": "3/2 seconds",
            "rate_limit_typing": "3/minute",
            "rate_limit_rooms": "2/minute",
            "rate_limit_members": "2/minute",
        }
    )
    async with (
        serve_in_process(strict) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        yield client


def _from(client: httpx.AsyncClient, address: str) -> httpx.AsyncClient:
    """A client of the same server from another loopback address (all of 127/8 is local)."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=client.base_url, transport=transport, timeout=30)


async def test_failed_sign_ins_trip_and_reset(
    limited: httpx.AsyncClient, clock: FrozenClock
) -> None:
    account = await create_account(limited)
    right = {"username": account.username, "password": account.password}
    wrong = {"username": account.username, "password": "wrong password"}
    answers = [await limited.post("/api/auth/login", json=wrong) for _ in range(4)]
    assert [a.status_code for a in answers] == [401, 401, 401, 429]
    refused = answers[-1]
    assert refused.json()["error"] == "rate_limited"
    assert refused.headers["retry-after"] == "2"
    # Past the limit even the right password is refused from this address: no oracle.
    assert (await limited.post("/api/auth/login", json=right)).status_code == 429
    # The OAuth2 form counts as a sign-in too.
    assert (await limited.post("/api/auth/token", data=wrong)).status_code == 429
    clock.advance(2.1)
    assert (await limited.post("/api/auth/login", json=right)).status_code == 200


async def test_successful_sign_ins_are_not_counted(limited: httpx.AsyncClient) -> None:
    account = await create_account(limited)
    right = {"username": account.username, "password": account.password}
    answers = [await limited.post("/api/auth/login", json=right) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 6


async def test_failures_from_elsewhere_do_not_lock_the_owner_out(
    limited: httpx.AsyncClient,
) -> None:
    victim = await create_account(limited)
    wrong = {"username": victim.username, "password": "wrong password"}
    right = {"username": victim.username, "password": victim.password}
    async with _from(limited, "127.0.0.2") as attacker, _from(limited, "127.0.0.3") as owner:
        guesses = [await attacker.post("/api/auth/login", json=wrong) for _ in range(10)]
        assert [a.status_code for a in guesses] == [401] * 3 + [429] * 7
        signed_in = [await owner.post("/api/auth/login", json=right) for _ in range(3)]
        assert [a.status_code for a in signed_in] == [200] * 3
        # Its address has not failed for this name (nor at all): the form works as well.
        assert (await owner.post("/api/auth/token", data=right)).status_code == 200


async def test_failures_per_address_trip_across_usernames(limited: httpx.AsyncClient) -> None:
    account = await create_account(limited)
    async with _from(limited, "127.0.0.4") as sprayer, _from(limited, "127.0.0.5") as other:
        answers = [
            await sprayer.post(
                "/api/auth/login", json={"username": f"nobody{n}", "password": "guess"}
            )
            for n in range(6)
        ]
        assert [a.status_code for a in answers] == [401] * 5 + [429]
        right = {"username": account.username, "password": account.password}
        assert (await sprayer.post("/api/auth/login", json=right)).status_code == 429
        assert (await other.post("/api/auth/login", json=right)).status_code == 200


async def test_parallel_guesses_get_no_more_than_the_limit_and_the_hashing_slots(
    limited: httpx.AsyncClient,
) -> None:
    account = await create_account(limited)
    wrong = {"username": account.username, "password": "wrong password"}
    answers = await asyncio.gather(
        *(limited.post("/api/auth/login", json=wrong) for _ in range(30))
    )
    statuses = [a.status_code for a in answers]
    # Counted inside the hashing slot: at most one guess per other slot slips past the limit.
    assert 3 <= statuses.count(401) <= 3 + (len(os.sched_getaffinity(0)) - 1), statuses
    assert statuses.count(429) == 30 - statuses.count(401)


async def test_registrations_trip_per_address(limited: httpx.AsyncClient) -> None:
    async def register(client: httpx.AsyncClient) -> httpx.Response:
        body = {"username": unique_username(), "password": "correct horse battery"}
        return await client.post("/api/auth/register", json=body)

    answers = [await register(limited) for _ in range(6)]
    assert [a.status_code for a in answers] == [201] * 5 + [429]
    assert answers[-1].json()["error"] == "rate_limited"
    assert answers[-1].headers["retry-after"] == "60"
    async with _from(limited, "127.0.0.6") as elsewhere:
        assert (await register(elsewhere)).status_code == 201


async def test_message_sends_trip_on_rest_and_websocket_together(
    limited: httpx.AsyncClient, clock: FrozenClock
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
    clock.advance(2.1)
    await socket.send({"type": "send", "room_id": room_id, "body": "later", "client_id": "c5"})
    assert (await socket.recv_type("ack", "error"))["type"] == "ack"
    history = (await limited.get(url, headers=account.headers)).json()["items"]
    assert [m["body"] for m in history] == ["m0", "m1", "third", "later"]


async def test_uploads_trip_and_reset(limited: httpx.AsyncClient, clock: FrozenClock) -> None:
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
    clock.advance(2.1)
    assert (await upload()).status_code == 202


async def test_new_connections_trip_at_the_handshake(
    limited: httpx.AsyncClient, clock: FrozenClock
) -> None:
    account = await create_account(limited)
    for _ in range(3):
        await WsClient.authenticated(str(limited.base_url), account.access_token)
    with pytest.raises(InvalidStatus) as refused:
        await WsClient.open(str(limited.base_url))
    assert refused.value.response.status_code == 429
    clock.advance(2.1)
    await WsClient.authenticated(str(limited.base_url), account.access_token)


async def test_typing_past_its_limit_is_dropped_silently(limited: httpx.AsyncClient) -> None:
    typist, reader = await create_account(limited), await create_account(limited)
    room_id = (await create_room(limited, typist))["id"]
    joined = await limited.post(f"/api/rooms/{room_id}/join", headers=reader.headers)
    assert joined.status_code == 200
    base_url = str(limited.base_url)
    listener = await WsClient.authenticated(base_url, reader.access_token)
    assert (await listener.subscribe(room_id))["type"] == "subscribed"
    socket = await WsClient.authenticated(base_url, typist.access_token)
    for _ in range(10):
        await socket.send({"type": "typing", "room_id": room_id})
    await socket.send({"type": "ping"})
    assert (await socket.recv())["type"] == "pong"  # no error frame before it: silently dropped
    for _ in range(3):
        assert (await listener.recv_type("typing"))["user"]["username"] == typist.username
    await listener.no_frame({"typing"}, within=1)


async def test_edits_count_as_sends(limited: httpx.AsyncClient) -> None:
    account = await create_account(limited)
    room_id = (await create_room(limited, account))["id"]
    url = f"/api/rooms/{room_id}/messages"
    posted = await limited.post(url, json={"body": "first"}, headers=account.headers)
    assert posted.status_code == 201
    edit_url = f"{url}/{posted.json()['id']}"
    edits = [
        await limited.patch(edit_url, json={"body": f"edit {n}"}, headers=account.headers)
        for n in range(3)
    ]
    assert [e.status_code for e in edits] == [200, 200, 429]
    assert edits[-1].headers["retry-after"] == "2"
    [message] = (await limited.get(url, headers=account.headers)).json()["items"]
    assert message["body"] == "edit 1"


async def test_room_and_direct_room_creations_trip_together(limited: httpx.AsyncClient) -> None:
    alice, bob, carol = [await create_account(limited) for _ in range(3)]
    made = await limited.post("/api/dm", json={"username": bob.username}, headers=alice.headers)
    assert made.status_code == 201
    assert (await create_room(limited, alice))["name"]
    refused = await limited.post("/api/rooms", json={"name": "third"}, headers=alice.headers)
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited"
    # Opening the direct room that exists creates nothing and is answered; a new one is not.
    again = await limited.post("/api/dm", json={"username": bob.username}, headers=alice.headers)
    assert (again.status_code, again.json()["id"]) == (200, made.json()["id"])
    new = await limited.post("/api/dm", json={"username": carol.username}, headers=alice.headers)
    assert new.status_code == 429
    mine = (await limited.get("/api/rooms", headers=alice.headers)).json()
    assert len(mine) == 2  # the refused direct room was not made
    assert (await limited.get("/api/rooms", headers=carol.headers)).json() == []


async def test_member_additions_trip(limited: httpx.AsyncClient) -> None:
    owner, *others = [await create_account(limited) for _ in range(4)]
    room_id = (await create_room(limited, owner))["id"]
    url = f"/api/rooms/{room_id}/members"
    added = [
        await limited.post(url, json={"username": other.username}, headers=owner.headers)
        for other in others
    ]
    assert [a.status_code for a in added] == [204, 204, 429]
    assert added[-1].headers["retry-after"] == "60"
    members = (await limited.get(f"/api/rooms/{room_id}", headers=owner.headers)).json()["members"]
    assert len(members) == 3


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
            account = await create_account(first)
            body = {"username": account.username, "password": "wrong password"}
            failures = [
                await client.post("/api/auth/login", json=body)
                for client in (first, second, second, first)
            ]
            assert [f.status_code for f in failures] == [401] * 4
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
