"""Two people in two browsers: sign up, share a room, talk, type, share an image, and come
back from a restart of their server to every message sent meanwhile, once each."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, expect

from tests.e2e.person import Person
from tests.support.factories import unique_username
from tests.support.files import png
from tests.support.processes import Cluster, EmbeddedServer, RedisServer


async def _conversation(
    browser: Browser,
    urls: tuple[str, str],
    restart_bobs_server: Callable[[], Coroutine[Any, Any, None]],
    screenshots: Path,
    tag: str,
    tmp_path: Path,
) -> None:
    alice = await Person.arrive(browser, unique_username("alice"), urls[0])
    bob = await Person.arrive(browser, unique_username("bob"), urls[1], phone=True)
    await alice.shot(screenshots, f"{tag}-1-sign-up")
    await alice.sign_up()
    await bob.sign_up()
    room = f"team-{tag}"
    await alice.create_room(room)
    await bob.join_public_room(room)

    await alice.say("Hello Bob!")
    await bob.sees_message("Hello Bob!")
    await bob.say("Hi Alice, good to see you.")
    await alice.sees_message("Hi Alice, good to see you.")

    await alice.start_typing("I am typ")
    await expect(bob.page.locator("#typing")).to_contain_text(
        f"{alice.name} is typing", timeout=10_000
    )
    await alice.page.get_by_label("Message", exact=True).fill("")
    await bob.start_typing("me t")
    await expect(alice.page.locator("#typing")).to_contain_text(
        f"{bob.name} is typing", timeout=10_000
    )
    await bob.page.get_by_label("Message", exact=True).fill("")

    picture = tmp_path / "sunset.png"
    picture.write_bytes(png(1280, 720, "darkorange"))
    await alice.upload(picture)
    for person in (alice, bob):
        thumbnail = person.page.locator("img.thumbnail[alt='sunset.png']")
        await expect(thumbnail).to_have_count(1, timeout=60_000)
        await expect(thumbnail).to_have_js_property("naturalWidth", 512, timeout=15_000)
    await alice.shot(screenshots, f"{tag}-2-conversation")
    await bob.shot(screenshots, f"{tag}-3-conversation-phone")

    for person in (alice, bob):
        person.server_down = urls[0] == urls[1] or person is bob
    restarting = asyncio.create_task(restart_bobs_server())
    await expect(bob.page.locator("#connection")).to_have_text("Reconnecting…", timeout=15_000)
    await bob.shot(screenshots, f"{tag}-4-reconnecting")
    if urls[0] != urls[1]:
        # Alice's instance stays up: she talks while Bob's is down.
        for n in range(3):
            await alice.say(f"While you were away {n}")
    await restarting
    if urls[0] == urls[1]:
        await expect(alice.page.locator("#connection")).to_have_text("Connected", timeout=30_000)
        for n in range(3):
            await alice.say(f"While you were away {n}")
    await expect(bob.page.locator("#connection")).to_have_text("Connected", timeout=30_000)
    for person in (alice, bob):
        person.server_down = False
    for n in range(3):
        await bob.sees_message(f"While you were away {n}")
    await bob.sees_message("Hello Bob!")
    await bob.shot(screenshots, f"{tag}-5-back")

    assert alice.console_errors == []
    assert bob.console_errors == []
    for person in (alice, bob):
        await person.context.close()


async def test_two_people_on_two_instances(
    browser: Browser,
    postgres_url: str,
    private_redis: RedisServer,
    tmp_path: Path,
    screenshots: Path,
) -> None:
    cluster = Cluster(postgres_url, private_redis.url, tmp_path)
    await cluster.start(2)
    await cluster.start_worker(concurrency=1)

    async def restart_bobs_server() -> None:
        await cluster.stop(1)
        await asyncio.sleep(2)
        await cluster.restart(1)

    try:
        urls = (cluster.url(0), cluster.url(1))
        await _conversation(browser, urls, restart_bobs_server, screenshots, "cluster", tmp_path)
    finally:
        await cluster.close()


async def test_two_people_on_the_embedded_default(
    browser: Browser, tmp_path: Path, screenshots: Path
) -> None:
    server = EmbeddedServer(tmp_path)
    await server.start()

    async def restart() -> None:
        await server.stop()
        await asyncio.sleep(2)
        await server.start()

    try:
        urls = (server.url, server.url)
        await _conversation(browser, urls, restart, screenshots, "embedded", tmp_path)
    finally:
        await server.stop()
