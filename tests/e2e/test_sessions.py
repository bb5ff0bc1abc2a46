"""Signing in and out in the browser: two tabs of one login, the next person at the same
screen, errors beside the form, and a reload that keeps your place. Access tokens live ten
seconds here, so every test also lives through refreshes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Response, expect

from tests.e2e.person import Person
from tests.e2e.stage import Stage, open_stage
from tests.support.databases import PostgresServer
from tests.support.factories import unique_username
from tests.support.waiting import eventually

pytestmark = pytest.mark.asyncio(loop_scope="module")

TOKEN_TTL = 10  # the shortest the server allows: the client refreshes every 5 seconds


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stage(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stage]:
    workdir = tmp_path_factory.mktemp("sessions")
    async with open_stage(
        postgres, workdir, env={"PARLEY_ACCESS_TOKEN_TTL": str(TOKEN_TTL)}
    ) as stage:
        yield stage


async def test_two_tabs_of_one_login_refresh_without_signing_each_other_out(
    module_browser: Browser, stage: Stage
) -> None:
    alice = await Person.arrive(module_browser, unique_username("alice"), stage.url(0))
    await alice.sign_up()
    await alice.create_room("two-tabs")
    second = await alice.new_tab(stage.url(0))  # one origin: one storage, one login
    await expect(second.page.locator("#connection")).to_have_text("Connected", timeout=15_000)

    refreshes: list[int] = []

    def count(response: Response) -> None:
        if response.url.endswith("/api/auth/refresh"):
            refreshes.append(response.status)

    alice.context.on("response", count)
    # Two rounds of refreshing: each tab's timer fires in each round, and each tab would
    # present the token it holds, which the other has spent by then.
    await eventually(lambda: len(refreshes) >= 2, within=30, every=0.2)
    assert refreshes == [200, 200]

    for tab in (alice, second):
        await expect(tab.page.locator("#connection")).to_have_text("Connected")
        await expect(tab.page.locator("#whoami")).to_contain_text(alice.name)
    await second.open_room("two-tabs")
    await second.say("from the second tab")
    await alice.sees_message("from the second tab")
    assert alice.console_errors == []
    assert second.console_errors == []
    await alice.context.close()


async def test_signing_out_leaves_nothing_for_the_next_person(
    module_browser: Browser, stage: Stage
) -> None:
    bob = await stage.account("bob")
    alice = await Person.arrive(module_browser, unique_username("alice"), stage.url(0))
    await alice.sign_up()
    await alice.page.get_by_text("Direct message").click()
    await alice.page.locator("#start-dm").get_by_label("Username").fill(bob.username)
    await alice.page.locator("#start-dm").get_by_role("button", name="Open").click()
    await alice.say("our little secret")
    await alice.sees_message("our little secret")
    await alice.sign_out()

    page = alice.page
    kept = "Object.keys(localStorage).filter(key => key.startsWith('parley'))"
    assert await page.evaluate(kept) == []
    assert "#" not in page.url
    await expect(page.get_by_text("our little secret")).to_have_count(0)
    await expect(page.locator("#room")).to_be_hidden()

    carol = Person(unique_username("carol"), alice.context, page)
    await carol.sign_up()
    await expect(page.get_by_text("our little secret")).to_have_count(0)
    await expect(page.locator("#room-list li")).to_have_count(0)
    await expect(page.locator("#room")).to_be_hidden()
    await expect(page.get_by_role("button", name="Edit")).to_have_count(0)
    await carol.create_room("carols-room")
    await carol.say("a fresh start")
    await carol.sees_message("a fresh start")
    await expect(page.locator(".toast")).to_have_count(0)
    assert alice.console_errors == []
    await alice.context.close()


async def test_a_sign_in_error_is_shown_in_the_form(module_browser: Browser, stage: Stage) -> None:
    account = await stage.account("dora")
    dora = await Person.arrive(module_browser, account.username, stage.url(0))
    form = dora.page.locator("#auth-form")
    await form.get_by_label("Username").fill(account.username)
    await form.get_by_label("Password").fill("not the password")
    await form.get_by_role("button", name="Sign in").click()

    error = dora.page.locator("#auth-view").get_by_role("alert")
    await expect(error).to_have_text("Unknown username or wrong password.")
    await expect(form.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    await expect(form.get_by_label("Username")).to_have_value(account.username)
    await expect(dora.page.locator(".toast")).to_have_count(0)

    await dora.sign_in()
    await expect(error).to_be_hidden()
    await dora.context.close()


async def test_a_reload_keeps_the_open_room_its_address_and_the_unread_counts(
    module_browser: Browser, stage: Stage
) -> None:
    bob = await stage.account("bob")
    alice = await Person.arrive(module_browser, unique_username("alice"), stage.url(0))
    await alice.sign_up()
    await alice.create_room("alpha")
    await alice.create_room("beta")
    await alice.open_room("alpha")
    alpha_url = alice.page.url
    await alice.open_room("beta")
    beta_url = alice.page.url
    assert alpha_url != beta_url

    rooms = (await stage.http.get("/api/rooms/public", headers=bob.headers)).json()
    alpha = next(room for room in rooms if room["name"] == "alpha")
    assert alpha["id"] in alpha_url
    joined = await stage.http.post(f"/api/rooms/{alpha['id']}/join", headers=bob.headers)
    assert joined.status_code == 200
    for n in range(2):
        await stage.say(bob, alpha["id"], f"news {n}")
    alpha_button = alice.page.locator("#room-list").get_by_role("button", name=re.compile("^alpha"))
    await expect(alpha_button.locator(".badge")).to_have_text("2")

    await alice.page.reload()
    await expect(alice.page.locator("#connection")).to_have_text("Connected", timeout=15_000)
    await expect(alice.page.locator("#room-name")).to_have_text("beta")
    assert alice.page.url == beta_url
    await expect(alpha_button.locator(".badge")).to_have_text("2")

    await alice.page.goto(alpha_url)
    await expect(alice.page.locator("#room-name")).to_have_text("alpha")
    await alice.sees_message("news 1")
    await expect(alpha_button.locator(".badge")).to_have_count(0)
    await alice.page.go_back()
    await expect(alice.page.locator("#room-name")).to_have_text("beta")
    assert alice.console_errors == []
    await alice.context.close()
