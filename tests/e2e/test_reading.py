"""Reading a conversation: your place is kept, images arrive whole, links and a safe subset
of Markdown work (markup in a message stays text), days are marked, what you shared can be
taken back, edits happen in place, and a direct message is named after the other person."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Dialog, expect

from tests.e2e.person import Person
from tests.e2e.stage import Stage, open_stage
from tests.support.databases import PostgresServer
from tests.support.factories import Account, unique_username
from tests.support.files import png

pytestmark = pytest.mark.asyncio(loop_scope="module")

AT_BOTTOM = "list => list.scrollHeight - list.scrollTop - list.clientHeight < 2"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stage(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stage]:
    async with open_stage(postgres, tmp_path_factory.mktemp("reading"), worker=True) as stage:
        yield stage


async def _reader(browser: Browser, stage: Stage, account: Account, room: str) -> Person:
    person = await Person.arrive(browser, account.username, stage.url(1))
    await person.sign_in()
    await person.open_room(room)
    return person


async def test_a_new_message_leaves_a_reader_of_old_history_where_they_are(
    module_browser: Browser, stage: Stage
) -> None:
    alice, bob_account = await stage.account("alice"), await stage.account("bob")
    room = await stage.room(alice, "history", bob_account)
    await stage.chatter(alice, room["id"], "old news", 30)
    bob = await _reader(module_browser, stage, bob_account, "history")
    messages = bob.page.locator("#messages")
    assert await messages.evaluate(AT_BOTTOM)
    await messages.evaluate("list => { list.scrollTop = 300; }")

    await stage.say(alice, room["id"], "breaking news")
    await bob.sees_message("breaking news")
    assert await messages.evaluate("list => list.scrollTop") == 300
    jump = bob.page.get_by_role("button", name=re.compile("New messages"))
    await expect(jump).to_be_visible()
    await jump.click()
    await expect(jump).to_be_hidden()
    assert await messages.evaluate(AT_BOTTOM)
    await bob.context.close()


async def test_a_new_image_is_shown_whole_at_the_bottom(
    module_browser: Browser, stage: Stage
) -> None:
    alice, bob_account = await stage.account("alice"), await stage.account("bob")
    room = await stage.room(alice, "pictures", bob_account)
    await stage.chatter(alice, room["id"], "chatter", 15)
    bob = await _reader(module_browser, stage, bob_account, "pictures")
    await stage.upload(alice, room["id"], "tower.png", png(300, 900, "steelblue"))
    thumbnail = bob.page.locator("#messages img.thumbnail")
    await expect(thumbnail).to_have_count(1, timeout=60_000)
    await thumbnail.evaluate(
        "image => image.complete && image.naturalWidth > 0 ? null"
        " : new Promise(done => image.addEventListener('load', done, { once: true }))"
    )
    await bob.page.evaluate("() => new Promise(done => requestAnimationFrame(() => done(null)))")
    messages = bob.page.locator("#messages")
    assert await messages.evaluate(AT_BOTTOM)
    shown = await thumbnail.bounding_box()
    visible = await messages.bounding_box()
    assert shown is not None
    assert visible is not None
    assert shown["height"] > 100
    assert shown["y"] >= visible["y"]
    assert shown["y"] + shown["height"] <= visible["y"] + visible["height"]
    await bob.context.close()


async def test_links_work_days_are_marked_and_a_file_is_named_once(
    module_browser: Browser, stage: Stage
) -> None:
    alice, bob_account = await stage.account("alice"), await stage.account("bob")
    room = await stage.room(alice, "days", bob_account)
    await stage.say(alice, room["id"], "from two days ago")
    await stage.say(alice, room["id"], "see https://example.com/docs?page=2 for more")
    await stage.backdate(room["id"], up_to_seq=2, days=2)
    hostile = '**bold** and `code` <img src=x onerror="window.pwned=1">'
    await stage.say(alice, room["id"], hostile)
    upload = await stage.upload(alice, room["id"], "notes.txt", b"line one\nline two\n")
    await stage.processed(alice, upload["id"])
    bob = await _reader(module_browser, stage, bob_account, "days")
    page = bob.page

    link = page.locator("#messages a[href='https://example.com/docs?page=2']")
    await expect(link).to_have_text("https://example.com/docs?page=2")
    await expect(link).to_have_attribute("target", "_blank")
    await expect(link).to_have_attribute("rel", re.compile("noopener"))
    await expect(page.locator("#messages .body", has_text="see https")).to_have_text(
        "see https://example.com/docs?page=2 for more"
    )

    rich = page.locator("#messages .body", has_text="and")
    await expect(rich.locator("strong")).to_have_text("bold")
    await expect(rich.locator("code")).to_have_text("code")
    await expect(rich).to_have_text('bold and code <img src=x onerror="window.pwned=1">')
    await expect(page.locator("#messages img")).to_have_count(0)
    assert await page.evaluate("() => window.pwned === undefined")

    dividers = page.locator("#messages .day-divider")
    await expect(dividers).to_have_count(2)
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    await expect(dividers.first).to_contain_text(str(two_days_ago.day))
    await expect(dividers.last).to_have_text("Today")
    times = page.locator("#messages .message time[datetime]")
    await expect(times).to_have_count(await page.locator("#messages .message").count())

    file_message = page.locator("#messages .message", has_text="notes.txt")
    await expect(file_message).to_have_count(1, timeout=30_000)
    text = await file_message.inner_text()
    assert text.count("notes.txt") == 1, text
    await bob.context.close()


async def test_what_you_shared_can_be_deleted_and_text_is_edited_in_place(
    module_browser: Browser, stage: Stage, tmp_path: Path
) -> None:
    alice = await Person.arrive(module_browser, unique_username("alice"), stage.url(0))
    dialogs: list[str] = []

    async def refuse(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    alice.page.on("dialog", refuse)
    await alice.sign_up()
    await alice.create_room("take-back")
    picture = tmp_path / "oops.png"
    picture.write_bytes(png(320, 240, "crimson"))
    await alice.upload(picture)
    image_message = alice.page.locator("#messages .message", has=alice.page.locator("img"))
    await expect(image_message).to_have_count(1, timeout=60_000)
    await expect(image_message.get_by_role("button", name=re.compile("^Edit"))).to_have_count(0)
    await image_message.get_by_role("button", name=re.compile("^Delete")).click()
    confirm = alice.page.get_by_role("dialog", name="Delete this message?")
    await expect(confirm).to_be_visible()
    await confirm.get_by_role("button", name="Delete").click()
    await expect(confirm).to_be_hidden()
    await expect(alice.page.locator("#messages img")).to_have_count(0)
    await expect(alice.page.locator("#messages .message.deleted")).to_have_count(1)

    await alice.say("first line")
    await alice.sees_message("first line")
    mine = alice.page.locator("#messages .message", has_text="first line")
    await mine.get_by_role("button", name=re.compile("^Edit")).click()
    editor = mine.get_by_role("textbox", name="Edit message")
    await expect(editor).to_be_focused()
    await editor.fill("first line\nsecond line")
    await mine.get_by_role("button", name="Save").click()
    await expect(mine.locator(".body")).to_have_text("first line\nsecond line")
    await expect(mine).to_contain_text("edited")
    await expect(alice.page.get_by_label("Message", exact=True)).to_be_focused()
    assert dialogs == []
    await alice.context.close()


async def test_a_direct_message_is_named_after_the_other_person(
    module_browser: Browser, stage: Stage
) -> None:
    bob_name = unique_username("bob")
    registered = await stage.http.post(
        "/api/auth/register",
        json={"username": bob_name, "password": "correct horse battery", "display_name": "Bob B."},
    )
    assert registered.status_code == 201
    alice = await Person.arrive(module_browser, unique_username("alice"), stage.url(0))
    await alice.sign_up()
    await alice.page.get_by_text("Direct message").click()
    await alice.page.locator("#start-dm").get_by_label("Username").fill(bob_name)
    await alice.page.locator("#start-dm").get_by_role("button", name="Open").click()
    await expect(alice.page.locator("#room-name")).to_have_text(f"Bob B. @{bob_name}")
    await expect(alice.page.locator("#room-list")).to_contain_text("Bob B.")
    await expect(alice.page.locator("#room-list")).not_to_contain_text("&")
    await alice.say("hi Bob")

    bob = await Person.arrive(module_browser, bob_name, stage.url(1))
    await bob.sign_in()
    await bob.open_room(alice.name)
    await expect(bob.page.locator("#room-name")).to_have_text(f"{alice.name} @{alice.name}")
    await bob.sees_message("hi Bob")
    for person in (alice, bob):
        await person.context.close()
