"""Access tokens (short-lived JWTs) and refresh tokens (opaque, stored hashed)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
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
_INVALID = "The access token is invalid or expired."


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    token_id: str
    expires_at: datetime


class AccessTokenCodec:
    def __init__(self, secret_key: str, ttl_seconds: int) -> None:
        self._key = secret_key
        self.ttl_seconds = ttl_seconds

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
