"""What a client chooses in its headers cannot steer Parley: the request id, the Host a
redirect would point at, and who may read the metrics."""

from __future__ import annotations

import re

import httpx
import pytest
from pydantic import SecretStr

from parley.core.settings import Settings
from tests.support.servers import serve_in_process


@pytest.mark.parametrize("supplied", ["edge-7f3a.9:12_Z", "a" * 64])
async def test_a_request_id_shaped_like_one_is_kept(
    client: httpx.AsyncClient, supplied: str
) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": supplied})
    assert response.headers["x-request-id"] == supplied


@pytest.mark.parametrize(
    "supplied",
    ['", "level": "error', "two words", "<script>", "a" * 65, "é"],
    ids=["json", "space", "markup", "too-long", "non-ascii"],
)
async def test_a_request_id_of_any_other_shape_is_replaced(
    client: httpx.AsyncClient, supplied: str
) -> None:
    response = await client.get("/healthz", headers={b"X-Request-ID": supplied.encode()})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


async def test_no_redirect_is_built_from_the_host_header(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/api/users/me/", headers={"Host": "evil.example.net"}, follow_redirects=False
    )
    assert response.status_code == 404
    assert "location" not in response.headers


async def test_the_page_may_connect_to_its_own_origin_only(client: httpx.AsyncClient) -> None:
    policy = (await client.get("/")).headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["connect-src"] == "'self'"


async def test_metrics_are_open_unless_a_token_is_set(client: httpx.AsyncClient) -> None:
    assert (await client.get("/metrics")).status_code == 200


async def test_metrics_need_the_token_once_one_is_set(settings: Settings) -> None:
    guarded = settings.model_copy(update={"metrics_token": SecretStr("scrape-me-7c1e")})
    async with serve_in_process(guarded) as url, httpx.AsyncClient(base_url=url) as client:
        missing = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
        right = await client.get("/metrics", headers={"Authorization": "Bearer scrape-me-7c1e"})
    assert [missing.status_code, wrong.status_code, right.status_code] == [401, 401, 200]
    assert missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["error"] == "unauthorized"
    assert "parley_queue_depth" in right.text
