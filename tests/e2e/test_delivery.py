"""Messages that must get through: sent while the server is away, sent faster than the rate
limit, sent over a connection that died without a word; and "typing…" that ends with the
message. Rate limits are on here, tight for messages."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect

from tests.e2e.person import Person
from tests.e2e.stage import Stage, open_stage
from tests.support.databases import PostgresServer
from tests.support.factories import Account, messages_of

pytestmark = pytest.mark.asyncio(loop_scope="module")

BURST_LIMIT = 3  # messages per two seconds, per user


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stage(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stage]:
    env = {
        "PARLEY_RATE_LIMITS": "on",
        "PARLEY_RATE_LIMIT_MESSAGES": f"{BURST_LIMIT}/2 seconds",
        "PARLEY_RATE_LIMIT_REGISTER": "1000/hour",
        "PARLEY_RATE_LIMIT_CONNECTIONS": "1000/minute",
    }
    async with open_stage(postgres, tmp_path_factory.mktemp("delivery"), env=env) as stage:
        yield stage


async def _in_room(
    browser: Browser, stage: Stage, account: Account, instance: int, room: str
) -> Person:
    person = await Person.arrive(browser, account.username, stage.url(instance))
    await person.sign_in()
    await person.open_room(room)
    return person


async def _bodies(person: Person) -> list[str]:
    bodies = person.page.locator("#messages .message:not(.kind-system) .body")
    texts: list[str] = await bodies.all_inner_texts()
    return texts


async def test_a_message_sent_while_the_server_is_away_goes_out_once_it_is_back(
    module_browser: Browser, stage: Stage
) -> None:
    alice_account, bob_account = await stage.account("alice"), await stage.account("bob")
    room = await stage.room(alice_account, "away", bob_account)
    alice = await _in_room(module_browser, stage, alice_account, 1, "away")
    bob = await _in_room(module_browser, stage, bob_account, 0, "away")

    alice.server_down = True
    async with stage.down(1):
        await expect(alice.page.locator("#connection")).to_have_text(
            "Reconnecting…", timeout=15_000
        )
        await alice.say("sent while away")
        waiting = alice.page.locator("#messages .message.pending")
        await expect(waiting).to_contain_text("sent while away")
        await expect(waiting).to_contain_text("Waiting for the connection")
        await expect(alice.page.locator("#messages .message.failed")).to_have_count(0)
    await bob.sees_message("sent while away")
    await alice.sees_message("sent while away")
    await expect(alice.page.locator("#messages .message.pending")).to_have_count(0)
    await expect(alice.page.locator("#messages .message.failed")).to_have_count(0)
    await expect(alice.page.get_by_text("Something went wrong")).to_have_count(0)
    stored = await messages_of(stage.http, alice_account, room["id"])
    assert [m["body"] for m in stored if m["kind"] == "text"] == ["sent while away"]
    alice.server_down = False
    assert bob.console_errors == []
    for person in (alice, bob):
        await person.context.close()


async def test_a_burst_over_the_rate_limit_all_goes_out_in_order_with_one_notice(
    module_browser: Browser, stage: Stage
) -> None:
    account = await stage.account("eager")
    room = await stage.room(account, "burst")
    eager = await _in_room(module_browser, stage, account, 0, "burst")
    burst = [f"burst {n}" for n in range(2 * BURST_LIMIT)]
    box = eager.page.get_by_label("Message", exact=True)
    for text in burst:
        await box.fill(text)
        await box.press("Enter")

    notices = eager.page.locator(".toast, .notice")
    await expect(notices.filter(has_text=re.compile("too fast", re.IGNORECASE))).to_have_count(1)
    assert await notices.count() == 1
    await expect(eager.page.locator("#messages .message.pending")).to_have_count(0, timeout=15_000)
    await expect(eager.page.locator("#messages .message.failed")).to_have_count(0)
    assert await _bodies(eager) == burst
    stored = await messages_of(stage.http, account, room["id"])
    assert [m["body"] for m in stored if m["kind"] == "text"] == burst
    await expect(notices).to_have_count(0, timeout=10_000)
    await eager.context.close()


async def test_a_stalled_connection_is_noticed_and_what_was_sent_meanwhile_keeps_its_place(
    module_browser: Browser, stage: Stage
) -> None:
    alice_account, bob_account = await stage.account("alice"), await stage.account("bob")
    room = await stage.room(alice_account, "stall", bob_account)
    bob = await _in_room(module_browser, stage, bob_account, 1, "stall")
    await stage.say(alice_account, room["id"], "before the stall")
    await bob.sees_message("before the stall")

    stage.freeze(1)  # Bob's server: its sockets stay open and say nothing
    frozen_at = time.monotonic()
    try:
        await stage.say(alice_account, room["id"], "while it stalled")
        await bob.say("sent into the stall")
        # The client pings after 10 s of silence and gives up after 15 s (checked each second).
        await expect(bob.page.locator("#connection")).not_to_have_text("Connected", timeout=25_000)
        noticed_after = time.monotonic() - frozen_at
    finally:
        stage.thaw(1)
    # Its last frame came just before the freeze: dropped no sooner than 15 s of silence allow
    # (a quiet but healthy connection is not given up on, nor pinged every few seconds).
    assert noticed_after > 12, noticed_after
    await expect(bob.page.locator("#connection")).to_have_text("Connected", timeout=30_000)
    for text in ("before the stall", "while it stalled", "sent into the stall"):
        await bob.sees_message(text)
    await expect(bob.page.locator("#messages .message.pending")).to_have_count(0)
    assert await _bodies(bob) == ["before the stall", "while it stalled", "sent into the stall"]
    seqs = await bob.page.locator("#messages .message[data-seq]").evaluate_all(
        "items => items.map(item => Number(item.dataset.seq))"
    )
    assert seqs == sorted(seqs)
    await bob.context.close()


async def test_typing_ends_the_moment_the_message_arrives(
    module_browser: Browser, stage: Stage
) -> None:
    alice_account, bob_account = await stage.account("alice"), await stage.account("bob")
    await stage.room(alice_account, "typing", bob_account)
    alice = await _in_room(module_browser, stage, alice_account, 0, "typing")
    bob = await _in_room(module_browser, stage, bob_account, 1, "typing")
    await bob.start_typing("on my wa")
    await expect(alice.page.locator("#typing")).to_contain_text("is typing", timeout=10_000)
    await bob.say("on my way")
    # The same frame that shows the message ends its sender's typing.
    await alice.page.wait_for_function(
        "() => [...document.querySelectorAll('#messages .body')]"
        ".some(body => body.textContent === 'on my way')"
    )
    assert await alice.page.locator("#typing").inner_text() == ""
    for person in (alice, bob):
        await person.context.close()
