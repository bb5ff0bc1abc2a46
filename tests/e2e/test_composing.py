"""Writing and sharing, on a phone and at a desk: the composer stays in view, Enter makes a new
line on a touch screen, text over the limit is kept and explained, and a refused upload says
why, with the limit, until it is dismissed. Uploads are limited to 100,000 bytes here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect

from tests.e2e.person import PHONE, Person
from tests.e2e.stage import Stage, open_stage
from tests.support.databases import PostgresServer
from tests.support.factories import unique_username

pytestmark = pytest.mark.asyncio(loop_scope="module")

PAGE_SCROLLS = "() => document.scrollingElement.scrollHeight > window.innerHeight"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stage(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stage]:
    env = {"PARLEY_MAX_UPLOAD_BYTES": "100000"}
    async with open_stage(postgres, tmp_path_factory.mktemp("composing"), env=env) as stage:
        yield stage


async def _composer_in_view(person: Person) -> None:
    box = await person.page.locator("#composer").bounding_box()
    assert box is not None
    assert box["y"] >= 0
    assert box["y"] + box["height"] <= PHONE["height"]


async def test_on_a_phone_only_the_messages_scroll_and_enter_makes_a_new_line(
    module_browser: Browser, stage: Stage
) -> None:
    alice, bob_account = await stage.account("alice"), await stage.account("bob")
    room = await stage.room(alice, "pocket", bob_account)
    await stage.chatter(alice, room["id"], "earlier", 20)
    bob = await Person.arrive(module_browser, bob_account.username, stage.url(1), phone=True)
    await bob.sign_in()
    await bob.open_room("pocket")
    await bob.sees_message("earlier 19")
    assert not await bob.page.evaluate(PAGE_SCROLLS)
    await _composer_in_view(bob)

    await stage.chatter(alice, room["id"], "later", 4)
    await bob.sees_message("later 3")
    assert not await bob.page.evaluate(PAGE_SCROLLS)
    await _composer_in_view(bob)
    messages = bob.page.locator("#messages")
    assert await messages.evaluate("list => list.scrollHeight > list.clientHeight")
    assert await messages.evaluate(
        "list => list.scrollHeight - list.scrollTop - list.clientHeight < 2"
    )

    box = bob.page.get_by_label("Message", exact=True)
    await box.tap()
    await box.press_sequentially("line one")
    await box.press("Enter")
    await box.press_sequentially("line two")
    await expect(box).to_have_value("line one\nline two")
    await bob.page.locator("#composer").get_by_role("button", name="Send").tap()
    await bob.sees_message("line one\nline two")
    await expect(box).to_have_value("")
    await bob.context.close()


async def test_text_over_the_length_limit_is_kept_and_explained(
    module_browser: Browser, stage: Stage
) -> None:
    writer = await Person.arrive(module_browser, unique_username("writer"), stage.url(0))
    await writer.sign_up()
    await writer.create_room("essays")
    box = writer.page.get_by_label("Message", exact=True)
    await box.focus()
    await writer.page.keyboard.insert_text("x" * 4050)
    assert await box.evaluate("box => box.value.length") == 4050  # nothing cut
    composer = writer.page.locator("#composer")
    await expect(composer).to_contain_text("50 characters too long")
    await box.press("Enter")
    await expect(writer.page.locator("#messages .message:not(.kind-system)")).to_have_count(0)
    assert await box.evaluate("box => box.value.length") == 4050
    await box.press("Backspace")
    await box.fill("x" * 4000)
    await expect(composer).not_to_contain_text("too long")
    await box.press("Enter")
    await writer.sees_message("x" * 4000)
    await writer.context.close()


async def test_a_refused_upload_states_the_limit_on_screen_until_dismissed(
    module_browser: Browser, stage: Stage, tmp_path: Path
) -> None:
    sharer = await Person.arrive(
        module_browser, unique_username("sharer"), stage.url(0), phone=True
    )
    await sharer.page.clock.install()
    await sharer.sign_up()
    await sharer.create_room("big-files")
    large = tmp_path / "a-report-with-a-rather-long-name-that-goes-on-and-on.txt"
    large.write_bytes(b"all work and no play\n" * 7200)  # 151,200 bytes
    await sharer.upload(large)

    failure = sharer.page.locator("#uploads").get_by_role("alert")
    await expect(failure).to_contain_text("a-report-with-a-rather-long-name")
    await expect(failure).to_contain_text("148 KB")
    await expect(failure).to_contain_text("at most 98 KB")
    shown = await failure.bounding_box()
    assert shown is not None
    assert shown["x"] >= 0
    assert shown["x"] + shown["width"] <= PHONE["width"]

    await sharer.page.clock.fast_forward(30_000)
    await expect(failure).to_be_visible()
    await failure.get_by_role("button", name="Dismiss").tap()
    await expect(failure).to_have_count(0)
    await sharer.context.close()
