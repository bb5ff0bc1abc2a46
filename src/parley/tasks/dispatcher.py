"""Commands to handlers, by type: the worker never looks a handler up by a bare string."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from parley.tasks.commands import Command, UnknownCommandError

__all__ = ["Dispatcher"]

C = TypeVar("C", bound=Command)


class Dispatcher:
    def __init__(self) -> None:
        self._handlers: dict[type[Command], Callable[[Any], Awaitable[None]]] = {}

    def register(self, command_type: type[C], handler: Callable[[C], Awaitable[None]]) -> None:
        self._handlers[command_type] = handler

    async def dispatch(self, command: Command) -> None:
        handler = self._handlers.get(type(command))
        if handler is None:
            msg = f"no handler for {command.name}"
            raise UnknownCommandError(msg)
        await handler(command)
