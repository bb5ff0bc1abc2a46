"""The broker channels of a namespace, one per room and one per user, and publishing to them.

The hub subscribes to these channels; ``ChannelPublisher`` is the publishing side alone, so a
process that only publishes (a worker) needs no hub: an event's envelope is encoded once and
handed to the broker in one call.
"""

from __future__ import annotations

import uuid

from parley.realtime.broker import Broker
from parley.realtime.envelope import Outbound, encode_envelope

__all__ = ["ChannelPublisher", "room_channel_prefix", "user_channel_prefix"]


def room_channel_prefix(namespace: str) -> str:
    """A room's channel is this followed by the room's id."""
    return f"{namespace}:room:"


def user_channel_prefix(namespace: str) -> str:
    """A user's channel is this followed by the user's id."""
    return f"{namespace}:user:"


class ChannelPublisher:
    """Publishes after commit, to every instance listening. Each call is one encoding of the
    envelope and one ``broker.publish``, awaited directly: nothing more per message."""

    __slots__ = ("_broker", "_room_prefix", "_user_prefix")

    def __init__(self, broker: Broker, *, namespace: str) -> None:
        self._broker = broker
        self._room_prefix = room_channel_prefix(namespace)
        self._user_prefix = user_channel_prefix(namespace)

    async def to_room(self, room_id: uuid.UUID, event: Outbound) -> None:
        await self._broker.publish(f"{self._room_prefix}{room_id}", encode_envelope(event))

    async def to_user(self, user_id: uuid.UUID, event: Outbound) -> None:
        await self._broker.publish(f"{self._user_prefix}{user_id}", encode_envelope(event))
