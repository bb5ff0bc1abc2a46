"""The list of rooms keeps up without a reload: a room or a direct message you are added to
appears at once, a rename shows, a room left in one tab goes from the other, and what changed
while the connection was down is there once it is back. The people are on different
instances of the cluster, so every change crosses the broker."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Request, expect

from tests.e2e.person import Person
from tests.e2e.stage import Stage, open_stage
from tests.support.databases import PostgresServer
from tests.support.factories import Account

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stage(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stage]:
    async with open_stage(postgres, tmp_path_factory.mktemp("room-list")) as stage:
        yield stage


async def _signed_in(browser: Browser, stage: Stage, account: Account, instance: int) -> Person:
    person = await Person.arrive(browser, account.username, stage.url(instance))
    await person.sign_in()
    return person


async def test_a_room_you_are_added_to_appears_at_once_in_its_place_with_its_news(
    module_browser: Browser, stage: Stage
) -> None:
    alice_account, bob_account = await stage.account("alice"), await stage.account("bob")
    await stage.room(alice_account, "earlier")  # older than Bob's own room: listed before it
    await stage.room(bob_account, "bobs own")
    bob = await _signed_in(module_browser, stage, bob_account, 1)
    await expect(bob.page.locator("#room-list li bdi")).to_have_text(["bobs own"])
    alice = await _signed_in(module_browser, stage, alice_account, 0)
    await alice.open_room("earlier")

    await alice.page.get_by_text("Add member").click()
    await alice.page.locator("#add-member").get_by_label("Username").fill(bob.name)
    await alice.page.locator("#add-member").get_by_role("button", name="Add").click()
    # In the order a reload would show: by the rooms' creation.
    await expect(bob.page.locator("#room-list li bdi")).to_have_text(["earlier", "bobs own"])

    await alice.say("welcome aboard")  # news to Bob: counted, though he never opened the room
    earlier = bob.page.locator("#room-list").get_by_role("button", name="earlier")
    await expect(earlier.locator(".badge")).to_have_text("1")
    await bob.open_room("earlier")
    await bob.sees_message("welcome aboard")
    await expect(earlier.locator(".badge")).to_have_count(0)

    await bob.page.reload()
    await expect(bob.page.locator("#room-list li bdi")).to_have_text(["earlier", "bobs own"])
    assert alice.console_errors == []
    assert bob.console_errors == []
    for person in (alice, bob):
        await person.context.close()


async def test_a_direct_message_opened_with_you_appears_at_once_named_after_the_sender(
    module_browser: Browser, stage: Stage
) -> None:
    alice_account, bob_account = await stage.account("alice"), await stage.account("bob")
    bob = await _signed_in(module_browser, stage, bob_account, 1)
    alice = await _signed_in(module_browser, stage, alice_account, 0)

    await alice.page.get_by_text("Direct message").click()
    await alice.page.locator("#start-dm").get_by_label("Username").fill(bob.name)
    await alice.page.locator("#start-dm").get_by_role("button", name="Open").click()
    await expect(bob.page.locator("#room-list li bdi")).to_have_text([alice.name])
    await alice.say("psst")
    dm = bob.page.locator("#room-list").get_by_role("button", name=alice.name)
    await expect(dm.locator(".badge")).to_have_text("1")
    await expect(bob.page).to_have_title("(1) Parley")

    await bob.open_room(alice.name)
    await bob.sees_message("psst")
    await expect(bob.page).to_have_title("Parley")
    await bob.say("hello back")
    await alice.sees_message("hello back")
    assert alice.console_errors == []
    assert bob.console_errors == []
    for person in (alice, bob):
        await person.context.close()


async def test_a_rename_shows_in_the_list_and_the_header_from_the_frame_alone(
    module_browser: Browser, stage: Stage
) -> None:
    alice_account, bob_account = await stage.account("alice"), await stage.account("bob")
    room = await stage.room(alice_account, "draft", bob_account)
    bob = await _signed_in(module_browser, stage, bob_account, 1)
    await bob.open_room("draft")
    # `room.updated` carries the room as it now is: no member needs to ask for it (in a room
    # of thousands, every member asking at once would be a stampede).
    asked: list[str] = []

    def count(request: Request) -> None:
        if re.search(r"/api/rooms/[0-9a-f-]{36}$", request.url):
            asked.append(request.url)

    bob.context.on("request", count)

    renamed = await stage.http.patch(
        f"/api/rooms/{room['id']}", json={"name": "launch"}, headers=alice_account.headers
    )
    assert renamed.status_code == 200, renamed.text
    await expect(bob.page.locator("#room-name")).to_have_text("launch")
    await expect(bob.page.locator("#room-list li bdi")).to_have_text(["launch"])
    await expect(bob.page.locator("#room-list [aria-current=page]")).to_have_text("launch")
    await stage.say(alice_account, room["id"], "after the rename")
    await bob.sees_message("after the rename")
    assert asked == []
    assert bob.console_errors == []
    await bob.context.close()


async def test_a_room_left_in_one_tab_goes_from_the_other_and_its_view_closes(
    module_browser: Browser, stage: Stage
) -> None:
    alice_account, bob_account = await stage.account("alice"), await stage.account("bob")
    await stage.room(alice_account, "lobby")
    await stage.room(bob_account, "bobs own")
    first = await _signed_in(module_browser, stage, bob_account, 1)
    second = await first.new_tab(stage.url(1))  # one origin: one storage, one login
    await expect(second.page.locator("#connection")).to_have_text("Connected", timeout=15_000)

    await first.join_public_room("lobby")
    await expect(second.page.locator("#room-list li bdi")).to_have_text(["lobby", "bobs own"])
    await second.open_room("lobby")
    await expect(second.page).to_have_url(re.compile(r"#/rooms/"))

    await first.page.locator("#room").get_by_role("button", name="Leave").click()
    await first.page.locator("#confirm-dialog").get_by_role("button", name="Leave").click()
    for tab in (first, second):
        await expect(tab.page.locator("#room-list li bdi")).to_have_text(["bobs own"])
        await expect(tab.page.locator("#room")).to_be_hidden()
        await expect(tab.page.locator("#no-room")).to_be_visible()
        await expect(tab.page).not_to_have_url(re.compile(r"#/rooms/"))
    await expect(second.page.locator("#notices")).to_contain_text("You left lobby")
    assert first.console_errors == []
    assert second.console_errors == []
    await first.context.close()


async def test_what_changed_while_the_connection_was_down_is_listed_once_it_is_back(
    module_browser: Browser, stage: Stage
) -> None:
    alice_account, bob_account = await stage.account("alice"), await stage.account("bob")
    kept = await stage.room(alice_account, "kept", bob_account)
    left = await stage.room(alice_account, "left behind", bob_account)
    added = await stage.room(alice_account, "added meanwhile")
    bob = await _signed_in(module_browser, stage, bob_account, 1)
    await expect(bob.page.locator("#room-list li bdi")).to_have_text(["kept", "left behind"])

    bob.server_down = True
    async with stage.down(1):
        await expect(bob.page.locator("#connection")).not_to_have_text("Connected")
        # Changes whose frames no socket of Bob's was there to get.
        joined = await stage.http.post(
            f"/api/rooms/{added['id']}/members",
            json={"username": bob_account.username},
            headers=alice_account.headers,
        )
        assert joined.status_code == 204, joined.text
        gone = await stage.http.delete(
            f"/api/rooms/{left['id']}/members/me", headers=bob_account.headers
        )
        assert gone.status_code == 204, gone.text
        renamed = await stage.http.patch(
            f"/api/rooms/{kept['id']}",
            json={"name": "kept, renamed"},
            headers=alice_account.headers,
        )
        assert renamed.status_code == 200, renamed.text
    await expect(bob.page.locator("#connection")).to_have_text("Connected", timeout=30_000)
    await expect(bob.page.locator("#room-list li bdi")).to_have_text(
        ["kept, renamed", "added meanwhile"]
    )
    await stage.say(alice_account, added["id"], "news in the new room")
    button = bob.page.locator("#room-list").get_by_role("button", name="added meanwhile")
    await expect(button.locator(".badge")).to_have_text("1")
    bob.server_down = False
    assert bob.console_errors == []
    await bob.context.close()
