"""A person using the web client in their own browser context."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.support.factories import DEFAULT_PASSWORD

__all__ = ["Person"]


PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1200, "height": 800}


class Person:
    def __init__(
        self, name: str, context: BrowserContext, page: Page, *, phone: bool = False
    ) -> None:
        self.name = name
        self.context = context
        self.page = page
        self.phone = phone
        self.console_errors: list[str] = []
        # While a test takes the server down on purpose, Chromium itself reports each refused
        # reconnection attempt on the console; those (and only those) are expected then.
        self.server_down = False
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.console_errors.append(str(error)))

    def _console(self, message: object) -> None:
        if getattr(message, "type", None) != "error":
            return
        text = getattr(message, "text", str(message))
        if self.server_down and "ERR_CONNECTION_REFUSED" in text:
            return
        self.console_errors.append(text)

    @classmethod
    async def arrive(
        cls, browser: Browser, name: str, base_url: str, *, phone: bool = False
    ) -> Person:
        # A phone has a touch screen: the client lets Enter make a new line there.
        context = await browser.new_context(
            base_url=base_url,
            viewport=PHONE if phone else DESKTOP,  # type: ignore[arg-type]
            has_touch=phone,
            is_mobile=phone,
        )
        page = await context.new_page()
        await page.goto("/")
        return cls(name, context, page, phone=phone)

    async def new_tab(self, base_url: str) -> Person:
        """The same person in another tab of the same browser (one login, shared storage)."""
        page = await self.context.new_page()
        await page.goto(base_url)
        return Person(self.name, self.context, page, phone=self.phone)

    async def sign_in(self, password: str = DEFAULT_PASSWORD) -> None:
        form = self.page.locator("#auth-form")
        await form.get_by_label("Username").fill(self.name)
        await form.get_by_label("Password").fill(password)
        await form.get_by_role("button", name="Sign in").click()
        await expect(self.page.locator("#connection")).to_have_text("Connected", timeout=15_000)

    async def sign_out(self) -> None:
        await self.page.get_by_role("button", name="Sign out").click()
        await expect(self.page.locator("#auth-form")).to_be_visible()

    async def open_room(self, name: str) -> None:
        await self.show_rooms()
        await self.page.locator("#room-list").get_by_role("button", name=name).click()
        await expect(self.page.locator("#room-name")).to_contain_text(name)

    async def sign_up(self, password: str = DEFAULT_PASSWORD) -> None:
        page = self.page
        await page.get_by_role("button", name="New here? Create an account").click()
        form = page.locator("#auth-form")
        await form.get_by_label("Username").fill(self.name)
        await form.get_by_label("Password").fill(password)
        await page.get_by_role("button", name="Create account").click()
        await expect(page.locator("#connection")).to_have_text("Connected", timeout=15_000)

    async def show_rooms(self) -> None:
        """On a phone the rooms are in a drawer: open it."""
        toggle = self.page.get_by_role("button", name="Rooms", exact=True)
        if await toggle.is_visible() and await toggle.get_attribute("aria-expanded") != "true":
            await toggle.click()

    async def create_room(self, name: str) -> None:
        page = self.page
        await self.show_rooms()
        if not await page.locator("#create-room").is_visible():
            await page.get_by_text("New room").click()
        await page.locator("#create-room").get_by_label("Name").fill(name)
        await page.locator("#create-room").get_by_role("button", name="Create").click()
        await expect(page.locator("#room-name")).to_have_text(name)

    async def join_public_room(self, name: str) -> None:
        page = self.page
        await self.show_rooms()
        await page.get_by_text("Public rooms").click()
        await page.get_by_role("button", name=f"Join {name}").click()
        await expect(page.locator("#room-name")).to_have_text(name)

    async def say(self, text: str) -> None:
        box = self.page.get_by_label("Message", exact=True)
        await box.fill(text)
        if self.phone:
            await self.page.locator("#composer").get_by_role("button", name="Send").click()
        else:
            await box.press("Enter")

    async def start_typing(self, text: str) -> None:
        await self.page.get_by_label("Message", exact=True).press_sequentially(text)

    async def sees_message(self, text: str) -> None:
        """Exactly once: a duplicate would fail this as surely as an absence."""
        exact = re.compile(f"^{re.escape(text)}$")
        messages = self.page.locator("#messages .message .body", has_text=exact)
        await expect(messages).to_have_count(1, timeout=15_000)

    async def upload(self, path: Path) -> None:
        await self.page.locator("#file-input").set_input_files(path)

    async def shot(self, folder: Path, name: str) -> None:
        await self.page.screenshot(path=folder / f"{name}.png", full_page=True)
