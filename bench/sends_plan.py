"""The persisted-sends workload, shared by Parley's run and the asyncpg floor's so that both
do exactly the same sends: who sends, how many, into which room, with which client id."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["BODY", "SendOne", "SendPlan", "Sent", "measure", "warm_up"]

# About the size of a chat line.
BODY = "The quick brown fox jumps over the lazy dog, then sends a message about it to the room."


@dataclass(frozen=True, slots=True)
class SendPlan:
    """``senders`` senders, each with one message in flight, ``messages`` each (after
    ``warmup`` unmeasured ones), spread over ``rooms`` rooms, as ``accounts`` users."""

    senders: int
    messages: int
    warmup: int
    rooms: int
    accounts: int

    def room_index(self, sender: int, n: int) -> int:
        # At any step every sender is in a different room while there are rooms enough:
        # contention comes from the shape of the plan (one busy room), not from chance.
        return (sender + n * self.senders) % self.rooms

    def account_index(self, sender: int) -> int:
        return sender % self.accounts

    def client_id(self, sender: int, n: int) -> str:
        # Unique per account and room, as idempotency is (room, sender, client_id).
        return f"s{sender}-m{n}"

    def arguments(self) -> list[str]:
        """The plan as command-line options, for a peer process (see ``from_arguments``)."""
        return [
            f"--senders={self.senders}",
            f"--messages={self.messages}",
            f"--warmup={self.warmup}",
            f"--rooms={self.rooms}",
            f"--accounts={self.accounts}",
        ]

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        for name in ("senders", "messages", "warmup", "rooms", "accounts"):
            parser.add_argument(f"--{name}", type=int, required=True)

    @classmethod
    def from_arguments(cls, arguments: argparse.Namespace) -> SendPlan:
        return cls(
            senders=arguments.senders,
            messages=arguments.messages,
            warmup=arguments.warmup,
            rooms=arguments.rooms,
            accounts=arguments.accounts,
        )


@dataclass(frozen=True, slots=True)
class Sent:
    """Acknowledged sends and the wall-clock seconds they took."""

    acknowledged: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.acknowledged / self.seconds


# Sends message ``n`` of sender ``sender`` and returns once it is acknowledged.
SendOne = Callable[[int, int], Awaitable[None]]


async def warm_up(plan: SendPlan, send: SendOne) -> None:
    """The plan's unmeasured first messages: connections, caches and plans get warm."""
    await _senders(plan, send, first=0, count=plan.warmup)


async def measure(plan: SendPlan, send: SendOne) -> Sent:
    """Every sender sends its measured messages one after the other, all senders at once."""
    started = time.perf_counter()
    await _senders(plan, send, first=plan.warmup, count=plan.messages)
    return Sent(plan.senders * plan.messages, time.perf_counter() - started)


async def _senders(plan: SendPlan, send: SendOne, *, first: int, count: int) -> None:
    async def sender(index: int) -> None:
        for n in range(first, first + count):
            await send(index, n)

    await asyncio.gather(*(sender(index) for index in range(plan.senders)))
