"""Rooms and members over REST: who sees what, and what joining and leaving record."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from tests.support.factories import (
    create_account,
    create_room,
    messages_of,
    post_message,
)

pytestmark = pytest.mark.both_databases  # the database is what these test


async def test_create_a_room_and_find_it(client: httpx.AsyncClient) -> None:
    owner = await create_account(client)
    room = await create_room(client, owner, "  general  ")
    assert room["name"] == "general"
    assert room["owner_id"] == owner.id
    assert room["is_private"] is False
    assert room["last_seq"] == 0
    assert set(room) == {"id", "name", "kind", "is_private", "owner_id", "created_at", "last_seq"}

    detail = (await client.get(f"/api/rooms/{room['id']}", headers=owner.headers)).json()
    assert [m["username"] for m in detail["members"]] == [owner.username]
    mine = (await client.get("/api/rooms", headers=owner.headers)).json()
    assert [r["id"] for r in mine] == [room["id"]]


async def test_public_rooms_are_listed_and_private_ones_are_not(
    client: httpx.AsyncClient,
) -> None:
    owner, stranger = await create_account(client), await create_account(client)
    public = await create_room(client, owner, "lobby")
    private = await create_room(client, owner, "secret", is_private=True)
    listed = {
        r["id"] for r in (await client.get("/api/rooms/public", headers=stranger.headers)).json()
    }
    assert public["id"] in listed
    assert private["id"] not in listed


async def test_joining_a_public_room_records_a_system_message(client: httpx.AsyncClient) -> None:
    owner, joiner = await create_account(client), await create_account(client)
    room = await create_room(client, owner)
    joined = await client.post(f"/api/rooms/{room['id']}/join", headers=joiner.headers)
    assert joined.status_code == 200
    assert joined.json()["last_seq"] == 1
    again = await client.post(f"/api/rooms/{room['id']}/join", headers=joiner.headers)
    assert again.json()["last_seq"] == 1  # joining twice changes nothing

    [system] = await messages_of(client, joiner, room["id"])
    assert system["kind"] == "system"
    assert system["sender"] is None
    assert system["seq"] == 1
    assert system["attachment"]["event"] == "joined"
    assert system["attachment"]["user"]["username"] == joiner.username


async def test_a_private_room_cannot_be_joined_and_looks_absent(client: httpx.AsyncClient) -> None:
    owner, stranger = await create_account(client), await create_account(client)
    room = await create_room(client, owner, is_private=True)
    response = await client.post(f"/api/rooms/{room['id']}/join", headers=stranger.headers)
    assert response.status_code == 404
    unknown = await client.post(f"/api/rooms/{uuid.uuid4()}/join", headers=stranger.headers)
    assert unknown.status_code == 404
    assert response.json() == unknown.json()


async def test_the_owner_adds_members_to_a_private_room(client: httpx.AsyncClient) -> None:
    owner, friend, third = (
        await create_account(client),
        await create_account(client),
        await create_account(client),
    )
    room = await create_room(client, owner, is_private=True)
    added = await client.post(
        f"/api/rooms/{room['id']}/members",
        json={"username": friend.username},
        headers=owner.headers,
    )
    assert added.status_code == 204
    twice = await client.post(
        f"/api/rooms/{room['id']}/members",
        json={"username": friend.username},
        headers=owner.headers,
    )
    assert twice.status_code == 204
    # A mere member of a private room may not add people.
    refused = await client.post(
        f"/api/rooms/{room['id']}/members",
        json={"username": third.username},
        headers=friend.headers,
    )
    assert refused.status_code == 403
    assert refused.json()["error"] == "forbidden"
    nobody = await client.post(
        f"/api/rooms/{room['id']}/members", json={"username": "no_such_user"}, headers=owner.headers
    )
    assert nobody.status_code == 404
    seqs = [m["seq"] for m in await messages_of(client, friend, room["id"])]
    assert seqs == [1]  # one "joined" message, not two


async def test_any_member_adds_members_to_a_public_room(client: httpx.AsyncClient) -> None:
    owner, member, newcomer = (
        await create_account(client),
        await create_account(client),
        await create_account(client),
    )
    room = await create_room(client, owner)
    await client.post(f"/api/rooms/{room['id']}/join", headers=member.headers)
    added = await client.post(
        f"/api/rooms/{room['id']}/members",
        json={"username": newcomer.username},
        headers=member.headers,
    )
    assert added.status_code == 204
    assert (
        await client.get(f"/api/rooms/{room['id']}", headers=newcomer.headers)
    ).status_code == 200


async def test_leaving_records_it_and_hands_ownership_on(client: httpx.AsyncClient) -> None:
    owner, member = await create_account(client), await create_account(client)
    room = await create_room(client, owner)
    await client.post(f"/api/rooms/{room['id']}/join", headers=member.headers)
    left = await client.delete(f"/api/rooms/{room['id']}/members/me", headers=owner.headers)
    assert left.status_code == 204
    assert (await client.get(f"/api/rooms/{room['id']}", headers=owner.headers)).status_code == 404
    detail = (await client.get(f"/api/rooms/{room['id']}", headers=member.headers)).json()
    assert detail["owner_id"] == member.id
    events = [m["attachment"]["event"] for m in await messages_of(client, member, room["id"])]
    assert events == ["joined", "left"]


async def test_the_owner_renames_a_room(client: httpx.AsyncClient) -> None:
    owner, member = await create_account(client), await create_account(client)
    room = await create_room(client, owner, "old")
    await client.post(f"/api/rooms/{room['id']}/join", headers=member.headers)
    renamed = await client.patch(
        f"/api/rooms/{room['id']}", json={"name": "new"}, headers=owner.headers
    )
    assert renamed.json()["name"] == "new"
    refused = await client.patch(
        f"/api/rooms/{room['id']}", json={"name": "mine"}, headers=member.headers
    )
    assert refused.status_code == 403
    last = (await messages_of(client, owner, room["id"]))[-1]
    assert last["attachment"] | {"user": None} == {
        "event": "renamed",
        "old_name": "old",
        "new_name": "new",
        "user": None,
    }


async def test_a_direct_room_is_made_once_per_pair(client: httpx.AsyncClient) -> None:
    alice, bob = await create_account(client), await create_account(client)
    first = await client.post("/api/dm", json={"username": bob.username}, headers=alice.headers)
    assert first.status_code == 201
    room = first.json()
    assert room["kind"] == "direct"
    assert room["is_private"] is True
    back = await client.post("/api/dm", json={"username": alice.username}, headers=bob.headers)
    assert back.status_code == 200
    assert back.json()["id"] == room["id"]
    members = (await client.get(f"/api/rooms/{room['id']}", headers=bob.headers)).json()["members"]
    assert {m["username"] for m in members} == {alice.username, bob.username}


async def test_concurrent_first_direct_messages_make_one_room(client: httpx.AsyncClient) -> None:
    alice, bob = await create_account(client), await create_account(client)
    answers = await asyncio.gather(
        client.post("/api/dm", json={"username": bob.username}, headers=alice.headers),
        client.post("/api/dm", json={"username": alice.username}, headers=bob.headers),
        client.post("/api/dm", json={"username": bob.username}, headers=alice.headers),
    )
    assert len({a.json()["id"] for a in answers}) == 1
    assert sorted(a.status_code for a in answers) == [200, 200, 201]


@pytest.mark.parametrize(("username", "status"), [("no_such_user", 404), ("self", 400)])
async def test_a_direct_room_needs_another_existing_user(
    client: httpx.AsyncClient, username: str, status: int
) -> None:
    alice = await create_account(client)
    name = alice.username if username == "self" else username
    response = await client.post("/api/dm", json={"username": name}, headers=alice.headers)
    assert response.status_code == status


async def test_a_direct_room_takes_no_extra_members(client: httpx.AsyncClient) -> None:
    alice, bob, carol = (
        await create_account(client),
        await create_account(client),
        await create_account(client),
    )
    room = (
        await client.post("/api/dm", json={"username": bob.username}, headers=alice.headers)
    ).json()
    response = await client.post(
        f"/api/rooms/{room['id']}/members", json={"username": carol.username}, headers=alice.headers
    )
    assert response.status_code == 403


@pytest.mark.parametrize("leavers", [("bob",), ("alice",), ("alice", "bob")])
async def test_a_direct_room_opened_again_after_a_leave_has_both_back_with_its_history(
    client: httpx.AsyncClient, leavers: tuple[str, ...]
) -> None:
    """Alice opens the room again: after Bob left (she stayed), after she left, after both
    did. It is the same room, its history kept; whoever had left is back, and the room
    records it."""
    alice, bob = await create_account(client), await create_account(client)
    people = {"alice": alice, "bob": bob}
    first = await client.post("/api/dm", json={"username": bob.username}, headers=alice.headers)
    room_id = first.json()["id"]
    await post_message(client, bob, room_id, "before")
    for name in leavers:
        left = await client.delete(f"/api/rooms/{room_id}/members/me", headers=people[name].headers)
        assert left.status_code == 204
        gone = await client.get(f"/api/rooms/{room_id}", headers=people[name].headers)
        assert gone.status_code == 404

    again = await client.post("/api/dm", json={"username": bob.username}, headers=alice.headers)
    assert again.status_code == 200
    assert again.json()["id"] == room_id
    for person in (alice, bob):
        detail = await client.get(f"/api/rooms/{room_id}", headers=person.headers)
        assert detail.status_code == 200
        assert {m["username"] for m in detail.json()["members"]} == {alice.username, bob.username}
        await post_message(client, person, room_id, "after")
    history = await messages_of(client, bob, room_id)
    assert [(m["body"] if m["kind"] == "text" else m["attachment"]["event"]) for m in history] == [
        "before",
        *(["left"] * len(leavers)),
        *(["joined"] * len(leavers)),
        "after",
        "after",
    ]
    rejoined = [name for name in ("alice", "bob") if name in leavers]  # the caller first
    assert [m["attachment"]["user"]["id"] for m in history if m["kind"] == "system"] == [
        people[name].id for name in (*leavers, *rejoined)
    ]
    # Opened once more, with both members: nothing changes, nothing is recorded.
    same = await client.post("/api/dm", json={"username": alice.username}, headers=bob.headers)
    assert same.status_code == 200
    assert len(await messages_of(client, bob, room_id)) == len(history)


async def test_every_room_endpoint_answers_404_to_a_non_member(client: httpx.AsyncClient) -> None:
    owner, stranger = await create_account(client), await create_account(client)
    room = await create_room(client, owner, is_private=True)
    message = await post_message(client, owner, room["id"])
    base = f"/api/rooms/{room['id']}"
    attempts = [
        ("GET", base, None),
        ("PATCH", base, {"name": "x"}),
        ("POST", f"{base}/members", {"username": stranger.username}),
        ("DELETE", f"{base}/members/me", None),
        ("GET", f"{base}/messages", None),
        ("POST", f"{base}/messages", {"body": "hi"}),
        ("PATCH", f"{base}/messages/{message['id']}", {"body": "x"}),
        ("DELETE", f"{base}/messages/{message['id']}", None),
        ("POST", f"{base}/join", None),
        ("GET", f"{base}/presence", None),
    ]
    for method, url, body in attempts:
        response = await client.request(method, url, json=body, headers=stranger.headers)
        assert response.status_code == 404, (method, url, response.text)
        assert response.json()["error"] == "not_found"
    # And nothing was changed by any of it.
    assert [m["body"] for m in await messages_of(client, owner, room["id"])] == ["hello"]


async def test_a_room_name_with_a_nul_character_is_422(client: httpx.AsyncClient) -> None:
    # Found by the API fuzzer: PostgreSQL cannot store NUL, and a rename to it answered 500.
    owner = await create_account(client)
    room = await create_room(client, owner, "plain")
    created = await client.post("/api/rooms", json={"name": "a\x00b"}, headers=owner.headers)
    renamed = await client.patch(
        f"/api/rooms/{room['id']}", json={"name": "a\x00b"}, headers=owner.headers
    )
    assert [created.status_code, renamed.status_code] == [422, 422]
    assert renamed.json()["fields"][0]["loc"] == ["body", "name"]
    assert (await client.get(f"/api/rooms/{room['id']}", headers=owner.headers)).json()[
        "name"
    ] == "plain"


@pytest.mark.parametrize("path", ["/api/dm", "/api/rooms/{room_id}/members"])
async def test_a_username_with_a_nul_character_is_no_user(
    client: httpx.AsyncClient, path: str
) -> None:
    # No username can hold NUL; looking one up answered 500 on PostgreSQL.
    owner = await create_account(client)
    room = await create_room(client, owner)
    response = await client.post(
        path.format(room_id=room["id"]), json={"username": "a\x00b"}, headers=owner.headers
    )
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
