"""Verified access tokens are remembered, never past their expiry."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from parley.core.errors import NotAuthenticated
from parley.security.tokens import AccessTokenCodec

KEY = "unit-test-secret-key-long-enough-for-hs256-0123456789"


def test_a_remembered_token_is_refused_once_it_expires() -> None:
    now = datetime.now(UTC)
    codec = AccessTokenCodec(KEY, ttl_seconds=60, clock=lambda: now)
    token = codec.issue(uuid.uuid4(), now=now)
    codec.decode(token)  # verified, and remembered
    now += timedelta(seconds=64)  # expired 4 s ago: within the 5 s leeway
    codec.decode(token)
    now += timedelta(seconds=2)
    with pytest.raises(NotAuthenticated):
        codec.decode(token)


def test_only_the_exact_verified_text_is_remembered() -> None:
    codec = AccessTokenCodec(KEY, ttl_seconds=60)
    token = codec.issue(uuid.uuid4())
    codec.decode(token)
    with pytest.raises(NotAuthenticated):
        codec.decode(token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
