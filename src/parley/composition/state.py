"""The typed state the lifespan builds once per process and every request reads."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from parley.core.errors import RateLimited
from parley.core.settings import Settings
from parley.db.engine import SessionFactory
from parley.db.unit_of_work import UnitOfWork
from parley.observability.metrics import Metrics
from parley.ratelimit import RateLimiter, Rule
from parley.realtime.broker import Broker
from parley.realtime.history import History
from parley.realtime.hub import Hub
from parley.realtime.presence_tracker import PresenceTracker
from parley.realtime.publisher import EventPublisher
from parley.repositories.message_appends import MessageAppends
from parley.repositories.message_pages import MessagePages
from parley.security.passwords import PasswordHasherService
from parley.security.tokens import AccessTokenCodec
from parley.storage import Storage
from parley.tasks.queue import TaskQueue

__all__ = ["AppState", "RateRules"]


@dataclass(frozen=True, slots=True)
class RateRules:
    login: Rule  # failed sign-ins, per client address and username
    login_address: Rule  # failed sign-ins, per client address
    register: Rule
    messages: Rule  # sends and edits
    uploads: Rule
    connections: Rule
    typing: Rule
    rooms: Rule  # rooms and direct-message rooms created
    members: Rule  # members added

    @classmethod
    def of(cls, settings: Settings) -> RateRules:
        return cls(
            login=Rule("login", settings.rate_limit_login),
            login_address=Rule("login-address", settings.rate_limit_login_address),
            register=Rule("registration", settings.rate_limit_register),
            messages=Rule("messages", settings.rate_limit_messages),
            uploads=Rule("uploads", settings.rate_limit_uploads),
            connections=Rule("connections", settings.rate_limit_connections),
            typing=Rule("typing", settings.rate_limit_typing),
            rooms=Rule("room-creation", settings.rate_limit_rooms),
            members=Rule("member-addition", settings.rate_limit_members),
        )


@dataclass(slots=True)
class AppState:
    settings: Settings
    engine: AsyncEngine
    session_factory: SessionFactory
    read_session_factory: SessionFactory  # for work that only reads (create_read_session_factory)
    appends: MessageAppends | None  # PostgreSQL only: sockets' sends, stored in batches
    pages: MessagePages  # pages of history, for the REST API and for sockets catching up
    passwords: PasswordHasherService
    access_tokens: AccessTokenCodec
    broker: Broker
    hub: Hub
    history: History
    events: EventPublisher
    presence: PresenceTracker
    queue: TaskQueue
    storage: Storage
    metrics: Metrics
    limiter: RateLimiter
    rules: RateRules

    def unit_of_work(self, *, read_only: bool = False) -> UnitOfWork:
        if read_only:
            return UnitOfWork(self.read_session_factory, read_only=True)
        return UnitOfWork(self.session_factory)

    async def enforce(self, rule: Rule, identity: str) -> None:
        """Count one attempt; raise ``RateLimited`` (429, ``rate_limited``) past the rule."""
        wait = await self.limiter.hit(rule, identity)
        if wait is not None:
            raise RateLimited(
                math.ceil(wait), f"Too many {rule.name} attempts; try again in {wait:.0f}s."
            )
