"""A task module, as a user would write one: a command and its handler, registered as the
module is imported (``PARLEY_TASK_MODULES=tests.support.touch_tasks``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from parley.tasks.commands import Command
from parley.tasks.handlers import handles

__all__ = ["Touch", "touch"]


@dataclass(frozen=True, slots=True)
class Touch(Command):
    """Create the file at ``path``: a side effect a test can wait for."""

    name: ClassVar[str] = "test_touch"
    path: str


@handles(Touch)
async def touch(command: Touch) -> None:
    Path(command.path).touch()
