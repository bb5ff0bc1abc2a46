"""Announcing presence: online and offline events to the rooms of a user, on any instance."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Literal

from parley.db.engine import SessionFactory
from parley.realtime.connection import Connection
from parley.realtime.hub import Hub
from parley.realtime.presence import Presence
from parley.realtime.publisher import EventPublisher
from parley.repositories.rooms import RoomRepository
from parley.repositories.users import UserRepository
from parley.schemas.messages import SenderOut

__all__ = ["PresenceTracker"]

log = logging.getLogger(__name__)


class PresenceTracker:
    def __init__(
        self,
        presence: Presence,
        hub: Hub,
        events: EventPublisher,
        session_factory: SessionFactory,
        *,
        max_room_size: int,
        refresh_interval: float,
    ) -> None:
        self.presence = presence
        self._hub = hub
        self._events = events
        self._session_factory = session_factory
        self._max_room_size = max_room_size
        self._refresh_interval = refresh_interval

    async def connected(self, connection: Connection, user: SenderOut) -> None:
        if await self.presence.connect(user.id, connection.id):
            await self._announce(user, "online")

    async def disconnected(self, connection: Connection, user: SenderOut) -> None:
        if await self.presence.disconnect(user.id, connection.id):
            await self._announce(user, "offline")

    async def run(self) -> None:
        """Keep this instance's connections alive, and announce those that others lost."""
        while True:
            await asyncio.sleep(self._refresh_interval)
            try:
                await self.presence.refresh((c.user_id, c.id) for c in self._hub.connections)
                for user_id in await self.presence.sweep():
                    user = await self._user(user_id)
                    if user is not None:
                        await self._announce(user, "offline")
            except Exception:
                log.exception("presence refresh failed; retrying")

    async def _announce(self, user: SenderOut, status: Literal["online", "offline"]) -> None:
        async with self._session_factory() as session:
            rooms = await RoomRepository(session).rooms_for_presence(user.id, self._max_room_size)
        for room_id in rooms:
            await self._events.presence(room_id, user, status)

    async def _user(self, user_id: uuid.UUID) -> SenderOut | None:
        async with self._session_factory() as session:
            user = await UserRepository(session).get(user_id)
            return SenderOut.model_validate(user) if user is not None else None
