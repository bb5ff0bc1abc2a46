"""Importing the task modules a worker was given: ``parley worker --tasks`` or
``PARLEY_TASK_MODULES``. Each registers its commands and their handlers as it is imported
(``parley.tasks.handlers``)."""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from parley.core.errors import ConfigurationError

__all__ = ["import_task_modules"]


def import_task_modules(names: Iterable[str]) -> None:
    for name in names:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name is None or not _is_itself_or_a_parent(error.name, of=name):
                raise  # the module is there, and imports something missing: its own bug
            msg = (
                f"the task module {name!r} (--tasks or PARLEY_TASK_MODULES) cannot be found: "
                f"is it installed, or on PYTHONPATH? ({error})"
            )
            raise ConfigurationError(msg) from error


def _is_itself_or_a_parent(missing: str, *, of: str) -> bool:
    return of == missing or of.startswith(f"{missing}.")
