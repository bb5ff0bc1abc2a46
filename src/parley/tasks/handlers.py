"""The commands task modules bring, with their handlers.

A task module is a Python module named by ``parley worker --tasks`` (or
``PARLEY_TASK_MODULES``) that a worker imports as it starts. Importing it registers its
commands here, each with its handler (``handles``), and every worker the process then builds
runs them beside Parley's own commands.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from parley.tasks.commands import COMMANDS, Command, register_command

__all__ = ["handles", "register_handler", "registered_handlers"]

C = TypeVar("C", bound=Command)

_HANDLERS: dict[type[Command], Callable[[Any], Awaitable[None]]] = {}


def register_handler(command: type[C], handler: Callable[[C], Awaitable[None]]) -> None:
    """Make ``command`` known by its name and have every worker run it with ``handler``."""
    known = COMMANDS.get(command.name)
    if known is not None and known is not command:
        msg = f"the command name {command.name!r} is taken by {known.__qualname__}"
        raise ValueError(msg)
    register_command(command)
    _HANDLERS[command] = handler


def handles(
    command: type[C],
) -> Callable[[Callable[[C], Awaitable[None]]], Callable[[C], Awaitable[None]]]:
    """``@handles(SomeCommand)`` on an ``async def`` that takes one ``SomeCommand``."""

    def register(handler: Callable[[C], Awaitable[None]]) -> Callable[[C], Awaitable[None]]:
        register_handler(command, handler)
        return handler

    return register


def registered_handlers() -> dict[type[Command], Callable[[Any], Awaitable[None]]]:
    """Every command task modules registered so far, with its handler."""
    return dict(_HANDLERS)
