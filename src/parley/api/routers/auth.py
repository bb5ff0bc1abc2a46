"""Registration, sign-in, token refresh and sign-out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from parley.api.deps import AuthServiceDep, StateDep
from parley.api.responses import error
from parley.composition.state import AppState
from parley.schemas.auth import LoginRequest, RefreshRequest, RegisterRequest, TokenPair
from parley.schemas.users import UserOut
from parley.services.auth import IssuedTokens
from parley.services.sign_in_limits import SignInLimits

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


def _address(request: Request) -> str:
    """The client's address (a trusted proxy's X-Forwarded-For, see server.py)."""
    return request.client.host if request.client else "unknown"


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    summary="Create an account",
    responses=error(409, "The username is taken (`username_taken`)")
    | error(429, "Too many registrations from this address; see `Retry-After` (`rate_limited`)"),
)
async def register(
    body: RegisterRequest, auth: AuthServiceDep, state: StateDep, request: Request
) -> UserOut:
    # Counted before the hash: each costs 64 MiB and a core for a tenth of a second.
    await state.enforce(state.rules.register, f"address:{_address(request)}")
    user = await auth.register(body.username, body.password, body.display_name)
    return UserOut.model_validate(user)


_LIMITED = error(
    429, "Too many failed sign-ins from this address; see `Retry-After` (`rate_limited`)"
)


def _sign_in_limits(state: AppState, request: Request, username: str) -> SignInLimits:
    return SignInLimits(
        state.limiter,
        per_name=state.rules.login,
        per_address=state.rules.login_address,
        address=_address(request),
        username=username,
    )


@router.post(
    "/login", summary="Sign in with a username and password", responses=_BAD_LOGIN | _LIMITED
)
async def login(
    body: LoginRequest, auth: AuthServiceDep, state: StateDep, request: Request
) -> TokenPair:
    limits = _sign_in_limits(state, request, body.username)
    return _pair(await auth.login(body.username, body.password, limits))


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
    limits = _sign_in_limits(state, request, form.username)
    return _pair(await auth.login(form.username, form.password, limits))


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
