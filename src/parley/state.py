"""The typed state the lifespan builds once per process and every request reads."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from parley.core.settings import Settings
from parley.db.engine import SessionFactory
from parley.db.unit_of_work import UnitOfWork
from parley.observability.metrics import Metrics
from parley.realtime.broker import Broker
from parley.realtime.history import History
from parley.realtime.hub import Hub
from parley.realtime.presence_tracker import PresenceTracker
from parley.realtime.publisher import EventPublisher
from parley.security.passwords import PasswordHasherService
from parley.security.tokens import AccessTokenCodec
from parley.storage import Storage
from parley.tasks.queue import TaskQueue

__all__ = ["AppState"]


@dataclass(slots=True)
class AppState:
    settings: Settings
    engine: AsyncEngine
    session_factory: SessionFactory
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

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory)
