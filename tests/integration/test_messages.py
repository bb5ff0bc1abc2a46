"""Messages over REST: seq, history pages, idempotent posting, edits and deletes."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.support.factories import (
    create_account,
    create_room,
    messages_of,
    post_message,
)

pytestmark = pytest.mark.both_databases  # the database is what these test


async def test_a_posted_message_has_the_contract_shape(client: httpx.AsyncClient) -> None:
    owner = await create_account(client)
    room = await create_room(client, owner)
    message = await post_message(client, owner, room["id"], "hi there")
    assert message["seq"] == 1
    assert message["kind"] == "text"
    assert message["body"] == "hi there"
    assert message["room_id"] == room["id"]
    assert message["sender"] == {
        "id": owner.id,
        "username": owner.username,
        "display_name": owner.username,
    }
    assert message["attachment"] is None
    assert message["edited_at"] is None
    assert message["deleted_at"] is None
    room_now = (await client.get(f"/api/rooms/{room['id']}", headers=owner.headers)).json()
    assert room_now["last_seq"] == 1


async def test_concurrent_senders_get_gapless_seqs(client: httpx.AsyncClient) -> None:
    accounts = [await create_account(client) for _ in range(4)]
    room = await create_room(client, accounts[0])
    for account in accounts[1:]:
        await client.post(f"/api/rooms/{room['id']}/join", headers=account.headers)

    async def send_many(index: int) -> None:
        for n in range(10):
            await post_message(client, accounts[index], room["id"], f"{index}-{n}")

    await asyncio.gather(*(send_many(i) for i in range(4)))
    history = await messages_of(client, accounts[0], room["id"], limit=200)
    assert [m["seq"] for m in history] == list(range(1, 44))  # 3 joins + 40 messages
    for index in range(4):
        mine = [m["body"] for m in history if m["body"].startswith(f"{index}-")]
        assert mine == [f"{index}-{n}" for n in range(10)]  # each sender's order is kept


async def test_the_same_client_id_stores_one_message(client: httpx.AsyncClient) -> None:
    owner = await create_account(client)
    room = await create_room(client, owner)
    url = f"/api/rooms/{room['id']}/messages"
    body = {"body": "once", "client_id": "c-1"}
    first = await client.post(url, json=body, headers=owner.headers)
    second = await client.post(
        url, json={"body": "changed?", "client_id": "c-1"}, headers=owner.headers
    )
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    racing = await asyncio.gather(
        *(
            client.post(url, json={"body": "race", "client_id": "c-2"}, headers=owner.headers)
            for _ in range(5)
        )
    )
    assert len({r.json()["id"] for r in racing}) == 1
    assert [m["seq"] for m in await messages_of(client, owner, room["id"])] == [1, 2]


async def test_history_pages_in_both_directions(client: httpx.AsyncClient) -> None:
    owner = await create_account(client)
    room = await create_room(client, owner)
    for n in range(1, 8):
        await post_message(client, owner, room["id"], f"m{n}")
    url = f"/api/rooms/{room['id']}/messages"

    async def page(**params: int) -> tuple[list[int], bool]:
        data = (await client.get(url, params=params, headers=owner.headers)).json()
        return [m["seq"] for m in data["items"]], data["has_more"]

    assert await page(limit=3) == ([5, 6, 7], True)
    assert await page(before_seq=5, limit=3) == ([2, 3, 4], True)
    assert await page(before_seq=2, limit=3) == ([1], False)
    assert await page(after_seq=0, limit=3) == ([1, 2, 3], True)
    assert await page(after_seq=4, limit=3) == ([5, 6, 7], False)
    assert await page(after_seq=7) == ([], False)
    assert await page() == ([1, 2, 3, 4, 5, 6, 7], False)


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 201},
        {"after_seq": -1},
        {"before_seq": 0},
        {"limit": "many"},
        {"after_seq": 2**31},
        {"before_seq": 2**63},
    ],
)
async def test_bad_history_parameters_are_422(
    client: httpx.AsyncClient, params: dict[str, int | str]
) -> None:
    owner = await create_account(client)
    room = await create_room(client, owner)
    response = await client.get(
        f"/api/rooms/{room['id']}/messages", params=params, headers=owner.headers
    )
    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"


async def test_after_and_before_together_are_refused(client: httpx.AsyncClient) -> None:
    owner = await create_account(client)
    room = await create_room(client, owner)
    response = await client.get(
        f"/api/rooms/{room['id']}/messages",
        params={"after_seq": 1, "before_seq": 5},
        headers=owner.headers,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"


@pytest.mark.parametrize(
    "body",
    [
        {"body": ""},
        {"body": "x" * 4001},
        {"body": 12},
        {"body": "ok", "client_id": ""},
        {},
        # PostgreSQL cannot store NUL: these answered 500 before the API refused them.
        {"body": "a\x00b"},
        {"body": "ok", "client_id": "a\x00b"},
    ],
)
async def test_bad_messages_are_422_and_store_nothing(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    owner = await create_account(client)
    room = await create_room(client, owner)
    response = await client.post(
        f"/api/rooms/{room['id']}/messages", json=body, headers=owner.headers
    )
    assert response.status_code == 422
    assert await messages_of(client, owner, room["id"]) == []


async def test_the_sender_edits_and_others_may_not(client: httpx.AsyncClient) -> None:
    owner, member = await create_account(client), await create_account(client)
    room = await create_room(client, owner)
    await client.post(f"/api/rooms/{room['id']}/join", headers=member.headers)
    message = await post_message(client, member, room["id"], "typo")
    url = f"/api/rooms/{room['id']}/messages/{message['id']}"
    edited = await client.patch(url, json={"body": "fixed"}, headers=member.headers)
    assert edited.status_code == 200
    assert edited.json()["body"] == "fixed"
    assert edited.json()["edited_at"] is not None
    assert edited.json()["seq"] == message["seq"]
    refused = await client.patch(url, json={"body": "hijack"}, headers=owner.headers)
    assert refused.status_code == 403
    [system] = [m for m in await messages_of(client, owner, room["id"]) if m["kind"] == "system"]
    system_url = f"/api/rooms/{room['id']}/messages/{system['id']}"
    assert (
        await client.patch(system_url, json={"body": "x"}, headers=owner.headers)
    ).status_code == 403


async def test_the_sender_or_the_owner_deletes(client: httpx.AsyncClient) -> None:
    owner, member, other = (
        await create_account(client),
        await create_account(client),
        await create_account(client),
    )
    room = await create_room(client, owner)
    for account in (member, other):
        await client.post(f"/api/rooms/{room['id']}/join", headers=account.headers)
    first = await post_message(client, member, room["id"], "one")
    second = await post_message(client, member, room["id"], "two")
    base = f"/api/rooms/{room['id']}/messages"
    assert (await client.delete(f"{base}/{first['id']}", headers=other.headers)).status_code == 403
    assert (await client.delete(f"{base}/{first['id']}", headers=member.headers)).status_code == 204
    assert (await client.delete(f"{base}/{second['id']}", headers=owner.headers)).status_code == 204
    assert (await client.delete(f"{base}/{second['id']}", headers=owner.headers)).status_code == 404
    history = await messages_of(client, owner, room["id"])
    deleted = [m for m in history if m["deleted_at"] is not None]
    # Deleted messages keep their seq (no gaps) but lose their body.
    assert [(m["seq"], m["body"]) for m in deleted] == [(first["seq"], ""), (second["seq"], "")]
    assert [m["seq"] for m in history] == list(range(1, len(history) + 1))
    edit = await client.patch(
        f"{base}/{first['id']}", json={"body": "back"}, headers=member.headers
    )
    assert edit.status_code == 404
