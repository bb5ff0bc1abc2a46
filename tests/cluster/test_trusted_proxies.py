"""Client addresses: ``X-Forwarded-For`` counts only from a configured proxy, and the shipped
nginx sets it rather than passing on the client's. Through a real nginx, to a real instance."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.factories import Account, create_account
from tests.support.nginx import Nginx
from tests.support.processes import Cluster

pytestmark = pytest.mark.cluster

SHARED_REDIS_URL = "redis://127.0.0.1:6379/0"
FAILURES_ALLOWED = 3
LIMITS = {
    "PARLEY_RATE_LIMITS": "on",
    "PARLEY_RATE_LIMIT_LOGIN": f"{FAILURES_ALLOWED}/minute",
    "PARLEY_RATE_LIMIT_LOGIN_ADDRESS": f"{FAILURES_ALLOWED}/minute",
}
# nginx reaches the instance from 127.0.0.1; clients come from other loopback addresses.
TRUSTING_NGINX = LIMITS | {"PARLEY_TRUSTED_PROXIES": json.dumps(["127.0.0.1"])}
GUESSES = 15


@contextlib.asynccontextmanager
async def _instance(postgres_url: str, tmp_path: Path, env: dict[str, str]) -> AsyncIterator[str]:
    cluster = Cluster(postgres_url, SHARED_REDIS_URL, tmp_path, extra_env=env)
    await cluster.start(1)
    try:
        yield cluster.url(0)
    finally:
        await cluster.close()


@contextlib.asynccontextmanager
async def _behind_nginx(postgres_url: str, tmp_path: Path) -> AsyncIterator[str]:
    async with _instance(postgres_url, tmp_path, TRUSTING_NGINX) as instance:
        nginx = Nginx(tmp_path, [instance.removeprefix("http://")])
        await nginx.start()
        try:
            yield nginx.url
        finally:
            await nginx.stop()


def _client(base_url: str, address: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=base_url, transport=transport, timeout=30)


async def _spoofed_guesses(client: httpx.AsyncClient, username: str) -> list[int]:
    """Wrong passwords, each claiming another address in ``X-Forwarded-For``."""
    statuses = []
    for n in range(GUESSES):
        answer = await client.post(
            "/api/auth/login",
            json={"username": username, "password": "wrong password"},
            headers={"X-Forwarded-For": f"203.0.113.{n + 1}"},
        )
        statuses.append(answer.status_code)
    return statuses


def _refused_after_the_limit(statuses: list[int]) -> bool:
    return statuses == [401] * FAILURES_ALLOWED + [429] * (GUESSES - FAILURES_ALLOWED)


async def _account(base_url: str) -> Account:
    async with _client(base_url, "127.0.0.9") as client:
        return await create_account(client)


async def test_a_client_cannot_choose_its_address_through_nginx(
    postgres_url: str, tmp_path: Path
) -> None:
    # The client shares the proxy's own (trusted) address: an nginx that appended to the
    # client's header would hand the instance the spoofed address on the left.
    async with _behind_nginx(postgres_url, tmp_path) as url:
        victim = await _account(url)
        async with _client(url, "127.0.0.1") as client:
            statuses = await _spoofed_guesses(client, victim.username)
    assert _refused_after_the_limit(statuses), statuses


async def test_behind_a_trusted_nginx_limits_apply_to_the_real_client_address(
    postgres_url: str, tmp_path: Path
) -> None:
    async with _behind_nginx(postgres_url, tmp_path) as url:
        victim = await _account(url)
        right = {"username": victim.username, "password": victim.password}
        async with _client(url, "127.0.0.5") as attacker, _client(url, "127.0.0.6") as owner:
            statuses = await _spoofed_guesses(attacker, victim.username)
            assert _refused_after_the_limit(statuses), statuses
            # The attacker's address is spent, for every name; the owner's is its own.
            other_name = {"username": "someone_else", "password": "guess"}
            assert (await attacker.post("/api/auth/login", json=other_name)).status_code == 429
            assert (await owner.post("/api/auth/login", json=right)).status_code == 200


async def test_with_no_trusted_proxy_a_direct_clients_forwarded_for_is_ignored(
    postgres_url: str, tmp_path: Path
) -> None:
    async with _instance(postgres_url, tmp_path, LIMITS) as url:
        victim = await _account(url)
        # From 127.0.0.1, which uvicorn alone would trust as a proxy.
        async with _client(url, "127.0.0.1") as client:
            statuses = await _spoofed_guesses(client, victim.username)
    assert _refused_after_the_limit(statuses), statuses
