"""The OpenAPI page works on a host with no way out: every asset comes from Parley itself."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.async_api import Browser, Route, expect

from parley.core.settings import Settings
from tests.support.servers import serve_in_process


async def test_the_api_docs_render_with_the_internet_cut_off(
    browser: Browser, settings: Settings
) -> None:
    async with serve_in_process(settings) as url:
        page = await browser.new_page()
        own_host = urlsplit(url).netloc
        refused: list[str] = []

        async def only_parley(route: Route) -> None:
            if urlsplit(route.request.url).netloc == own_host:
                await route.continue_()
            else:
                refused.append(route.request.url)
                await route.abort()

        await page.route("**/*", only_parley)
        await page.goto(f"{url}/docs")
        await expect(page.locator(".swagger-ui .info .title")).to_contain_text("Parley")
        await expect(page.locator(".opblock-summary-path").first).to_be_visible()
        await page.close()
    assert refused == []
