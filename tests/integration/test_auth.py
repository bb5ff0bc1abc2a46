"""Registration, sign-in, token refresh with rotation and reuse detection, sign-out."""

from __future__ import annotations

import asyncio
import statistics
import time

import httpx
import pytest

from tests.support.factories import DEFAULT_PASSWORD, create_account, unique_username


async def test_register_returns_the_user_with_a_lower_cased_name(client: httpx.AsyncClient) -> None:
    name = unique_username("Alice")
    response = await client.post(
        "/api/auth/register", json={"username": name, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 201
    user = response.json()
    assert user["username"] == name.lower()
    assert user["display_name"] == name.lower()
    assert set(user) == {"id", "username", "display_name", "created_at"}


async def test_register_keeps_a_display_name(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/register",
        json={"username": unique_username(), "password": DEFAULT_PASSWORD, "display_name": " Zoë "},
    )
    assert response.status_code == 201
    assert response.json()["display_name"] == "Zoë"


async def test_a_taken_username_is_a_conflict_regardless_of_case(
    client: httpx.AsyncClient,
) -> None:
    name = unique_username()
    await create_account(client, name)
    response = await client.post(
        "/api/auth/register", json={"username": name.upper(), "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 409
    assert response.json() == {"error": "username_taken", "detail": "That username is taken."}


async def test_concurrent_registrations_of_one_name_make_one_account(
    client: httpx.AsyncClient,
) -> None:
    name = unique_username()
    responses = await asyncio.gather(
        *(
            client.post("/api/auth/register", json={"username": name, "password": DEFAULT_PASSWORD})
            for _ in range(4)
        )
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "ab", "password": DEFAULT_PASSWORD}, "username"),
        ({"username": "a" * 33, "password": DEFAULT_PASSWORD}, "username"),
        ({"username": "bad name", "password": DEFAULT_PASSWORD}, "username"),
        ({"username": "émile", "password": DEFAULT_PASSWORD}, "username"),
        ({"username": "valid_name", "password": "short"}, "password"),
        ({"username": "valid_name", "password": "x" * 129}, "password"),
        ({"username": "valid_name"}, "password"),
        (
            {"username": "valid_name", "password": DEFAULT_PASSWORD, "display_name": ""},
            "display_name",
        ),
        (  # PostgreSQL cannot store NUL: this answered 500 before the API refused it
            {"username": "valid_name", "password": DEFAULT_PASSWORD, "display_name": "a\x00b"},
            "display_name",
        ),
        ({"username": "valid_name", "password": DEFAULT_PASSWORD, "is_admin": 1}, "is_admin"),
    ],
)
async def test_weak_or_malformed_registrations_are_422_with_the_field(
    client: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    response = await client.post("/api/auth/register", json=body)
    assert response.status_code == 422
    error = response.json()
    assert error["error"] == "validation_error"
    assert field in error["detail"]
    assert [f["loc"] for f in error["fields"]] == [["body", field]]


async def test_a_body_that_is_not_json_is_400_saying_where(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/register", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": "bad_request",
        "detail": "The request body is not valid JSON: "
        "Expecting property name enclosed in double quotes (at character 1).",
    }


async def test_login_returns_a_bearer_pair(client: httpx.AsyncClient) -> None:
    account = await create_account(client)
    response = await client.post(
        "/api/auth/login", json={"username": account.username.upper(), "password": account.password}
    )
    assert response.status_code == 200
    tokens = response.json()
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 900
    assert tokens["access_token"] != tokens["refresh_token"]
    me = await client.get(
        "/api/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.json()["username"] == account.username


async def test_unknown_user_and_wrong_password_fail_alike(client: httpx.AsyncClient) -> None:
    account = await create_account(client)

    async def attempt(username: str) -> tuple[httpx.Response, float]:
        started = time.perf_counter()
        response = await client.post(
            "/api/auth/login", json={"username": username, "password": "wrong password"}
        )
        return response, time.perf_counter() - started

    # In turns, so that whatever else loads the machine weighs on both alike.
    wrong_password, unknown_user = [], []
    for _ in range(5):
        wrong_password.append(await attempt(account.username))
        unknown_user.append(await attempt(unique_username("ghost")))
    bodies = {r.content for r, _ in wrong_password + unknown_user}
    statuses = {r.status_code for r, _ in wrong_password + unknown_user}
    assert statuses == {401}
    assert len(bodies) == 1
    assert wrong_password[0][0].json()["error"] == "invalid_credentials"
    assert wrong_password[0][0].headers["www-authenticate"] == "Bearer"
    # Both paths verify an argon2 hash, so their times are of one size (a ratio, not a clock).
    ratio = statistics.median(t for _, t in unknown_user) / statistics.median(
        t for _, t in wrong_password
    )
    assert 0.5 < ratio < 2.0


async def test_the_oauth2_password_form_issues_tokens(client: httpx.AsyncClient) -> None:
    account = await create_account(client)
    response = await client.post(
        "/api/auth/token", data={"username": account.username, "password": account.password}
    )
    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"
    bad = await client.post("/api/auth/token", data={"username": account.username, "password": "x"})
    assert bad.status_code == 401
    assert bad.json()["error"] == "invalid_credentials"


async def test_a_username_with_a_nul_character_is_unknown(client: httpx.AsyncClient) -> None:
    # Found by the API fuzzer: looking such a name up answered 500 on PostgreSQL.
    credentials = {"username": "a\x00b", "password": DEFAULT_PASSWORD}
    login = await client.post("/api/auth/login", json=credentials)
    form = await client.post("/api/auth/token", data=credentials)
    assert [login.status_code, form.status_code] == [401, 401]
    assert form.json()["error"] == "invalid_credentials"


async def test_refresh_rotates_and_the_old_token_is_spent(client: httpx.AsyncClient) -> None:
    account = await create_account(client)
    first = await client.post("/api/auth/refresh", json={"refresh_token": account.refresh_token})
    assert first.status_code == 200
    rotated = first.json()
    assert rotated["refresh_token"] != account.refresh_token
    me = await client.get(
        "/api/users/me", headers={"Authorization": f"Bearer {rotated['access_token']}"}
    )
    assert me.status_code == 200
    second = await client.post(
        "/api/auth/refresh", json={"refresh_token": rotated["refresh_token"]}
    )
    assert second.status_code == 200


async def test_a_reused_refresh_token_revokes_the_whole_login(client: httpx.AsyncClient) -> None:
    account = await create_account(client)
    other_login = (
        await client.post(
            "/api/auth/login", json={"username": account.username, "password": account.password}
        )
    ).json()
    rotated = (
        await client.post("/api/auth/refresh", json={"refresh_token": account.refresh_token})
    ).json()

    replay = await client.post("/api/auth/refresh", json={"refresh_token": account.refresh_token})
    assert replay.status_code == 401
    assert replay.headers["www-authenticate"] == "Bearer"

    # The legitimate holder of the rotated token is signed out too: the family is revoked.
    after = await client.post("/api/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert after.status_code == 401
    # A separate login of the same user is a separate family and still works.
    other = await client.post(
        "/api/auth/refresh", json={"refresh_token": other_login["refresh_token"]}
    )
    assert other.status_code == 200


async def test_concurrent_refreshes_with_one_token_let_at_most_one_through(
    client: httpx.AsyncClient,
) -> None:
    account = await create_account(client)
    responses = await asyncio.gather(
        *(
            client.post("/api/auth/refresh", json={"refresh_token": account.refresh_token})
            for _ in range(3)
        )
    )
    assert sorted(r.status_code for r in responses) == [200, 401, 401]
    winner = next(r for r in responses if r.status_code == 200).json()
    # The losers replayed a spent token, so the winner's login is revoked as well.
    again = await client.post("/api/auth/refresh", json={"refresh_token": winner["refresh_token"]})
    assert again.status_code == 401


@pytest.mark.parametrize("token", ["", "not-a-token", "x" * 200])
async def test_unknown_refresh_tokens_are_refused(client: httpx.AsyncClient, token: str) -> None:
    response = await client.post("/api/auth/refresh", json={"refresh_token": token})
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


async def test_logout_ends_the_refresh_token(client: httpx.AsyncClient) -> None:
    account = await create_account(client)
    response = await client.post("/api/auth/logout", json={"refresh_token": account.refresh_token})
    assert response.status_code == 204
    assert response.content == b""
    refused = await client.post("/api/auth/refresh", json={"refresh_token": account.refresh_token})
    assert refused.status_code == 401
    # Logging out twice, or with an unknown token, is harmless.
    again = await client.post("/api/auth/logout", json={"refresh_token": account.refresh_token})
    assert again.status_code == 204
