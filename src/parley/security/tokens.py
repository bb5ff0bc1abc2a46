"""Access tokens (short-lived JWTs) and refresh tokens (opaque, stored hashed)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from parley.core.errors import NotAuthenticated

__all__ = ["AccessClaims", "AccessTokenCodec", "hash_refresh_token", "new_refresh_token"]

# Pinned: a token naming any other algorithm (``none`` included) is refused.
_ALGORITHM = "HS256"
_ISSUER = "parley"
_ACCESS_TYPE = "access"
_LEEWAY_SECONDS = 5
_LEEWAY = timedelta(seconds=_LEEWAY_SECONDS)
_VERIFIED_CACHE_SIZE = 10_000  # tokens; one per signed-in client is what is reused
_INVALID = "The access token is invalid or expired."


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    token_id: str
    expires_at: datetime


class AccessTokenCodec:
    """Issues and verifies access tokens.

    A verified token is remembered until it expires: a client presents the same token on
    every request for minutes, and checking its HMAC each time was a tenth of the CPU of a
    typical request. The cache holds only tokens that passed verification, keyed by their
    exact text (signature included), so it can never vouch for a token it did not verify.
    """

    def __init__(
        self, secret_key: str, ttl_seconds: int, *, clock: Callable[[], datetime] = _utc_now
    ) -> None:
        self._key = secret_key
        self.ttl_seconds = ttl_seconds
        # What a remembered token's expiry is checked against (PyJWT checks a new one on the
        # system clock); a test moves it on rather than sleep.
        self._clock = clock
        self._verified: dict[str, AccessClaims] = {}

    def issue(self, user_id: uuid.UUID, *, now: datetime | None = None) -> str:
        issued = now or datetime.now(UTC)
        claims = {
            "sub": str(user_id),
            "iat": issued,
            "exp": issued + timedelta(seconds=self.ttl_seconds),
            "jti": uuid.uuid4().hex,
            "iss": _ISSUER,
            "typ": _ACCESS_TYPE,
        }
        return jwt.encode(claims, self._key, algorithm=_ALGORITHM)

    def decode(self, token: str) -> AccessClaims:
        claims = self._verified.get(token)
        if claims is None:
            claims = self._verify(token)
            if len(self._verified) >= _VERIFIED_CACHE_SIZE:
                self._verified.clear()  # simplest bound; a miss costs one verification
            self._verified[token] = claims
        if claims.expires_at + _LEEWAY < self._clock():
            del self._verified[token]
            raise NotAuthenticated(_INVALID)
        return claims

    def _verify(self, token: str) -> AccessClaims:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[_ALGORITHM],
                issuer=_ISSUER,
                leeway=_LEEWAY_SECONDS,
                options={"require": ["sub", "iat", "exp", "jti", "iss", "typ"]},
            )
            user_id = uuid.UUID(claims["sub"])
            expires_at = datetime.fromtimestamp(claims["exp"], UTC)
        except (jwt.InvalidTokenError, ValueError, TypeError) as error:
            raise NotAuthenticated(_INVALID) from error
        if claims["typ"] != _ACCESS_TYPE:
            raise NotAuthenticated(_INVALID)
        return AccessClaims(user_id=user_id, token_id=str(claims["jti"]), expires_at=expires_at)


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    # A plain SHA-256 suffices: the token carries 256 random bits, nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()
