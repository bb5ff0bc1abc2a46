"""Failed sign-ins, counted per (client address, username) and per client address.

Only failures count. Enough wrong passwords for a name from one address close that address to
that name (and enough of them for any names, to every name), never the name to everyone: a
correct password from an address that has not failed signs in, whoever else guesses.

The counters are read, and a failure counted, while the attempt holds its hashing slot
(``VerificationGuard``): a burst of parallel guesses is let in one after the other, not all
against the same count.
"""

from __future__ import annotations

import math

from parley.core.errors import RateLimited
from parley.ratelimit import RateLimiter, Rule

__all__ = ["SignInLimits"]

# Usernames are at most 32 characters: a longer one is unknown, and need not be kept whole.
_NAME_KEPT = 64


class SignInLimits:
    """The failure counters of one sign-in attempt; a ``VerificationGuard``."""

    __slots__ = ("_counters", "_limiter")

    def __init__(
        self,
        limiter: RateLimiter,
        *,
        per_name: Rule,
        per_address: Rule,
        address: str,
        username: str,
    ) -> None:
        self._limiter = limiter
        name = username.lower()[:_NAME_KEPT]
        self._counters = (
            (per_name, f"address:{address}:username:{name}"),
            (per_address, f"address:{address}"),
        )

    async def admit(self) -> None:
        for rule, identity in self._counters:
            wait = await self._limiter.peek(rule, identity)
            if wait is not None:
                raise RateLimited(
                    math.ceil(wait), f"Too many failed sign-ins; try again in {wait:.0f}s."
                )

    async def failed(self) -> None:
        for rule, identity in self._counters:
            await self._limiter.hit(rule, identity)
