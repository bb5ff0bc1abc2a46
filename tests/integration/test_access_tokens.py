"""Access tokens: only well-formed, correctly signed, unexpired HS256 JWTs get in."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest

from parley.security.tokens import AccessTokenCodec
from tests.conftest import TEST_SECRET_KEY
from tests.support.factories import create_account


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def _me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"})


def _assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"] == "unauthorized"


async def test_no_token_is_401_with_a_bearer_challenge(client: httpx.AsyncClient) -> None:
    _assert_refused(await client.get("/api/users/me"))


async def test_a_tampered_token_is_refused(client: httpx.AsyncClient) -> None:
    account = await create_account(client)
    header, payload, signature = account.access_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = str(uuid.uuid4())
    _assert_refused(await _me(client, f"{header}.{_b64(claims)}.{signature}"))
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    _assert_refused(await _me(client, f"{header}.{payload}.{flipped}"))


async def test_an_expired_token_is_refused(client: httpx.AsyncClient) -> None:
    account = await create_account(client)
    codec = AccessTokenCodec(TEST_SECRET_KEY, ttl_seconds=60)
    expired = codec.issue(uuid.UUID(account.id), now=datetime.now(UTC) - timedelta(minutes=5))
    _assert_refused(await _me(client, expired))
    fresh = codec.issue(uuid.UUID(account.id))
    assert (await _me(client, fresh)).status_code == 200


async def test_an_unsigned_alg_none_token_is_refused(client: httpx.AsyncClient) -> None:
    account = await create_account(client)
    now = int(datetime.now(UTC).timestamp())
    claims = {
        "sub": account.id,
        "iat": now,
        "exp": now + 600,
        "jti": "x",
        "iss": "parley",
        "typ": "access",
    }
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    _assert_refused(await _me(client, unsigned))


@pytest.mark.parametrize(
    ("key", "algorithm"),
    [("another-secret-key-that-is-also-long-enough", "HS256"), (TEST_SECRET_KEY, "HS512")],
)
async def test_a_token_signed_otherwise_is_refused(
    client: httpx.AsyncClient, key: str, algorithm: str
) -> None:
    account = await create_account(client)
    now = datetime.now(UTC)
    claims = {
        "sub": account.id,
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "jti": "x",
        "iss": "parley",
        "typ": "access",
    }
    _assert_refused(await _me(client, jwt.encode(claims, key, algorithm=algorithm)))


@pytest.mark.parametrize("missing", ["exp", "sub", "jti", "iat"])
async def test_a_token_missing_a_required_claim_is_refused(
    client: httpx.AsyncClient, missing: str
) -> None:
    account = await create_account(client)
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": account.id,
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "jti": "x",
        "iss": "parley",
        "typ": "access",
    }
    del claims[missing]
    _assert_refused(await _me(client, jwt.encode(claims, TEST_SECRET_KEY, algorithm="HS256")))


async def test_a_refresh_token_is_not_an_access_token(client: httpx.AsyncClient) -> None:
    account = await create_account(client)
    _assert_refused(await _me(client, account.refresh_token))


async def test_a_token_for_a_user_that_does_not_exist_is_refused(
    client: httpx.AsyncClient,
) -> None:
    token = AccessTokenCodec(TEST_SECRET_KEY, ttl_seconds=60).issue(uuid.uuid4())
    _assert_refused(await _me(client, token))
