"""Accessibility: axe-core (from npm, injected into the page) finds nothing serious or critical
on the sign-in page or in a busy room; everything can be done with the keyboard alone; focus
rings and field borders stand out at 3:1. Screenshots of each main screen, at desk and phone
sizes, go to test-artifacts/screens/."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, FileChooser, Locator, Page, expect

from tests.e2e.person import DESKTOP, PHONE, Person
from tests.e2e.stage import Stage, open_stage
from tests.support.databases import PostgresServer
from tests.support.factories import unique_username
from tests.support.files import png

pytestmark = pytest.mark.asyncio(loop_scope="module")

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stage(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stage]:
    async with open_stage(postgres, tmp_path_factory.mktemp("a11y"), worker=True) as stage:
        yield stage


async def _serious_violations(page: Page) -> list[str]:
    """Run axe-core in the page (evaluated over the DevTools protocol, so the page's CSP,
    which allows no script of anyone else's, still holds for the page itself)."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.evaluate(AXE.read_text())
    results: dict[str, Any] = await page.evaluate(
        "() => axe.run(document, { resultTypes: ['violations'] })"
    )
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        + ", ".join(str(node["target"]) for node in violation["nodes"][:3])
        for violation in results["violations"]
        if violation["impact"] in {"serious", "critical"}
    ]


async def _both_sizes(page: Page, screenshots: Path, name: str) -> list[str]:
    """Check and photograph a screen at desk size, then at phone size."""
    found = []
    for size, suffix in ((DESKTOP, "desktop"), (PHONE, "phone")):
        await page.set_viewport_size(size)  # type: ignore[arg-type]
        found += await _serious_violations(page)
        await page.screenshot(path=screenshots / f"{name}-{suffix}.png")
    await page.set_viewport_size(DESKTOP)  # type: ignore[arg-type]
    return found


async def test_axe_finds_nothing_serious_on_sign_in_or_in_a_busy_room(
    module_browser: Browser, stage: Stage, screenshots: Path
) -> None:
    alice, bob, carol = [await stage.account(name) for name in ("alice", "bob", "carol")]
    room = await stage.room(alice, "busy-room", bob, carol)
    other = await stage.room(alice, "elsewhere", bob)
    lines = [
        "Morning all! The **release** is _today_.",
        "Notes are at https://example.com/notes, have a look",
        "`make check` passes here\n> quoting the plan: ship it",
        "```\nparley serve --port 8000\n```",
        "A long one: " + "words that go on " * 12,
    ]
    for n, line in enumerate(lines):
        await stage.say([alice, bob, carol][n % 3], room["id"], line)
    edited = await stage.say(carol, room["id"], "typo hree")
    await stage.http.patch(
        f"/api/rooms/{room['id']}/messages/{edited['id']}",
        json={"body": "typo here (fixed)"},
        headers=carol.headers,
    )
    gone = await stage.say(alice, room["id"], "never mind")
    await stage.http.delete(f"/api/rooms/{room['id']}/messages/{gone['id']}", headers=alice.headers)
    upload = await stage.upload(carol, room["id"], "whiteboard.png", png(800, 500, "seagreen"))
    await stage.processed(carol, upload["id"])

    person = await Person.arrive(module_browser, bob.username, stage.url(0))
    page = person.page
    found = await _both_sizes(page, screenshots, "sign-in")
    await page.get_by_role("button", name="New here? Create an account").click()
    found += await _both_sizes(page, screenshots, "sign-up")
    await page.get_by_role("button", name="Have an account? Sign in").click()
    await person.sign_in()
    await person.open_room("busy-room")
    await stage.say(alice, other["id"], "unread elsewhere")
    await expect(page.locator("#messages img.thumbnail")).to_have_js_property(
        "complete", True, timeout=30_000
    )
    await expect(page.locator("#room-list .badge")).to_have_text("1")
    found += await _both_sizes(page, screenshots, "room")

    await page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    await person.show_rooms()
    found += await _serious_violations(page)
    await page.screenshot(path=screenshots / "rooms-drawer-phone.png")
    await page.set_viewport_size(DESKTOP)  # type: ignore[arg-type]
    await page.locator("#room-list").get_by_role("button", name=re.compile("busy-room")).click()

    await person.say("a message of my own")
    await person.sees_message("a message of my own")
    mine = page.locator("#messages .message", has_text="a message of my own")
    await mine.get_by_role("button", name=re.compile("^Delete")).click()
    found += await _both_sizes(page, screenshots, "confirm-delete")
    await page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    await mine.get_by_role("button", name=re.compile("^Edit")).click()
    found += await _both_sizes(page, screenshots, "edit-in-place")
    assert found == []
    assert person.console_errors == []
    await person.context.close()


async def _tab_to(page: Page, target: Locator, *, limit: int = 60) -> None:
    """Press Tab until the target has the focus, as someone without a mouse would."""
    for _ in range(limit):
        if await target.evaluate("element => element === document.activeElement"):
            return
        await page.keyboard.press("Tab")
    msg = f"Tab never reached {target}"
    raise AssertionError(msg)


async def _focused_is_not_the_page(page: Page) -> bool:
    focused: bool = await page.evaluate(
        "() => document.activeElement !== null && document.activeElement !== document.body"
    )
    return focused


async def test_everything_can_be_done_with_the_keyboard_alone(
    module_browser: Browser, stage: Stage, tmp_path: Path
) -> None:
    person = await Person.arrive(module_browser, unique_username("keys"), stage.url(1))
    page, keys = person.page, person.page.keyboard
    assert await _focused_is_not_the_page(page)

    await _tab_to(page, page.get_by_role("button", name="New here? Create an account"))
    await keys.press("Enter")
    form = page.locator("#auth-form")
    await _tab_to(page, form.get_by_label("Username"))
    await keys.type(person.name)
    await _tab_to(page, form.get_by_label("Password"))
    await keys.type("correct horse battery")
    await keys.press("Enter")
    await expect(page.locator("#connection")).to_have_text("Connected", timeout=15_000)
    assert await _focused_is_not_the_page(page)

    for name in ("first-room", "second-room"):
        await _tab_to(page, page.locator("summary", has_text="New room"))
        await keys.press("Enter")
        await _tab_to(page, page.locator("#create-room").get_by_label("Name"))
        await keys.type(name)
        await keys.press("Enter")
        await expect(page.locator("#room-name")).to_have_text(name)
    await expect(page.get_by_label("Message", exact=True)).to_be_focused()
    await keys.type("typed, not clicked")
    await keys.press("Enter")
    await person.sees_message("typed, not clicked")

    picture = tmp_path / "keyboard.png"
    picture.write_bytes(png(200, 120, "navy"))
    # Listening for the chooser before the keys that reach the control: ``expect_file_chooser``
    # turned the interception on only as the keypress went out, and missed the chooser it
    # opened about one run in three. The round trips of the tabbing below come after it.
    chooser: asyncio.Future[FileChooser] = asyncio.get_running_loop().create_future()

    def opened(dialog: FileChooser) -> None:
        if not chooser.done():
            chooser.set_result(dialog)

    page.on("filechooser", opened)
    await _tab_to(page, page.get_by_role("button", name=re.compile("^Share a file")))
    await keys.press("Enter")
    await (await asyncio.wait_for(chooser, 30)).set_files(picture)
    await expect(page.locator("#messages img.thumbnail[alt='keyboard.png']")).to_have_count(
        1, timeout=60_000
    )

    await _tab_to(page, page.locator("#room-list").get_by_role("button", name="first-room"))
    await keys.press("Enter")
    await expect(page.locator("#room-name")).to_have_text("first-room")
    assert await _focused_is_not_the_page(page)

    await _tab_to(page, page.get_by_role("button", name="Sign out"))
    await keys.press("Enter")
    await expect(page.locator("#auth-form")).to_be_visible()
    assert await _focused_is_not_the_page(page)
    assert person.console_errors == []
    await person.context.close()


def _luminance(rgb: tuple[float, ...]) -> float:
    def channel(value: float) -> float:
        value /= 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(value) for value in rgb[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def _contrast(first: str, second: str) -> float:
    def rgb(css: str) -> tuple[float, ...]:
        return tuple(float(part) for part in re.findall(r"[\d.]+", css)[:3])

    lighter, darker = sorted((_luminance(rgb(first)), _luminance(rgb(second))), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


async def test_focus_rings_and_field_borders_stand_out_three_to_one(
    module_browser: Browser, stage: Stage
) -> None:
    person = await Person.arrive(module_browser, unique_username("eyes"), stage.url(0))
    page = person.page
    card = await page.locator("#auth-view .card").evaluate(
        "card => getComputedStyle(card).backgroundColor"
    )
    field = page.locator("#auth-form").get_by_label("Username")
    border = await field.evaluate("input => getComputedStyle(input).borderTopColor")
    assert _contrast(border, card) >= 3, (border, card)

    button = page.locator("#auth-form").get_by_role("button", name="Sign in")
    await _tab_to(page, button)
    ring = await button.evaluate(
        "b => { const s = getComputedStyle(b); return [s.outlineStyle, s.outlineColor]; }"
    )
    assert ring[0] != "none"
    assert _contrast(ring[1], card) >= 3, (ring, card)
    await person.context.close()
