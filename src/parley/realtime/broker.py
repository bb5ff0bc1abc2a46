"""The Broker seam: channels of bytes between the instances of a cluster.

A broker only carries events; it never stores them. Whatever it drops, readers recover
from the database (see ``hub.py``), so a broker may lose messages but must say when it
reconnected, which is when it may have lost some.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol, TypeAlias

__all__ = ["Broker", "BrokerEvent", "Delivery", "Reconnected"]


@dataclass(frozen=True, slots=True)
class Delivery:
    channel: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Reconnected:
    """The broker lost its connection and is back: events published meanwhile are lost."""


BrokerEvent: TypeAlias = Delivery | Reconnected


class Broker(Protocol):
    @property
    def reconnects(self) -> int:
        """Times the connection was lost and made again (a metric)."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, channel: str, data: bytes) -> None: ...

    async def subscribe(self, channel: str) -> None: ...

    async def unsubscribe(self, channel: str) -> None: ...

    def events(self) -> AsyncIterator[BrokerEvent]:
        """The events of subscribed channels, in the order received; one consumer only."""
        ...

    async def ping(self) -> None:
        """Raise if the broker cannot be reached (readiness)."""
        ...
