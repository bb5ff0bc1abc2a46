"""Registration, sign-in, token refresh and sign-out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from parley.api.deps import AuthServiceDep, StateDep
from parley.api.responses import error
from parley.schemas.auth import LoginRequest, RefreshRequest, RegisterRequest, TokenPair
from parley.schemas.users import UserOut
from parley.services.auth import IssuedTokens
from parley.state import AppState

__all__ = ["router"]

router = APIRouter(prefix="/auth", tags=["auth"])

_BAD_LOGIN = error(401, "Unknown username or wrong password (`invalid_credentials`)")
_BAD_REFRESH = error(401, "Invalid, expired, revoked or reused refresh token (`unauthorized`)")


def _pair(tokens: IssuedTokens) -> TokenPair:
    return TokenPair(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
    )


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    summary="Create an account",
    responses=error(409, "The username is taken (`username_taken`)"),
)
async def register(body: RegisterRequest, auth: AuthServiceDep) -> UserOut:
    user = await auth.register(body.username, body.password, body.display_name)
    return UserOut.model_validate(user)


_LIMITED = error(429, "Too many sign-in attempts; see `Retry-After` (`rate_limited`)")


async def _limit_sign_in(state: AppState, request: Request, username: str) -> None:
    # Per address (one client trying many names) and per name (many clients, one target).
    address = request.client.host if request.client else "unknown"
    await state.enforce(state.rules.login, f"address:{address}")
    await state.enforce(state.rules.login, f"username:{username.lower()}")


@router.post(
    "/login", summary="Sign in with a username and password", responses=_BAD_LOGIN | _LIMITED
)
async def login(
    body: LoginRequest, auth: AuthServiceDep, state: StateDep, request: Request
) -> TokenPair:
    await _limit_sign_in(state, request, body.username)
    return _pair(await auth.login(body.username, body.password))


@router.post(
    "/token",
    summary="Sign in with the OAuth2 password form (the docs page's Authorize button)",
    responses=_BAD_LOGIN | _LIMITED,
)
async def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    auth: AuthServiceDep,
    state: StateDep,
    request: Request,
) -> TokenPair:
    await _limit_sign_in(state, request, form.username)
    return _pair(await auth.login(form.username, form.password))


@router.post(
    "/refresh",
    summary="Exchange a refresh token for a new pair; the old one is spent",
    responses=_BAD_REFRESH,
)
async def refresh(body: RefreshRequest, auth: AuthServiceDep) -> TokenPair:
    return _pair(await auth.refresh(body.refresh_token))


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign out: the refresh token's login ends",
)
async def logout(body: RefreshRequest, auth: AuthServiceDep) -> None:
    await auth.logout(body.refresh_token)
