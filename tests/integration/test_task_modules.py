"""Task modules (``PARLEY_TASK_MODULES``, ``parley worker --tasks``): a worker imports them as
it starts, and runs the commands they register beside Parley's own."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, TypeVar

import pytest
from pydantic import SecretStr

from parley.composition.serving import serving
from parley.composition.task_modules import import_task_modules
from parley.core.errors import ConfigurationError
from parley.core.settings import Settings
from parley.observability.metrics import Metrics
from parley.tasks import commands, handlers
from parley.tasks.commands import Command
from parley.tasks.handlers import register_handler, registered_handlers
from tests.conftest import TEST_SECRET_KEY
from tests.support.databases import copy_sqlite
from tests.support.waiting import eventually

TOUCH_TASKS = "tests.support.touch_tasks"

K = TypeVar("K")
V = TypeVar("V")


@pytest.fixture(autouse=True)
def _registries_as_they_were() -> Iterator[None]:
    """What a test's task modules register is forgotten after it, and each test imports
    them afresh: the registries belong to the process, which other tests share."""
    saved_commands = dict(commands.COMMANDS)
    saved_adapters = dict(commands._ADAPTERS)
    saved_handlers = dict(handlers._HANDLERS)
    sys.modules.pop(TOUCH_TASKS, None)
    yield
    sys.modules.pop(TOUCH_TASKS, None)
    _restore(commands.COMMANDS, saved_commands)
    _restore(commands._ADAPTERS, saved_adapters)
    _restore(handlers._HANDLERS, saved_handlers)


def _restore(registry: dict[K, V], entries: dict[K, V]) -> None:
    registry.clear()
    registry.update(entries)


async def test_the_embedded_worker_runs_the_commands_of_its_task_modules(
    tmp_path: Path, sqlite_template: Path
) -> None:
    database = tmp_path / "parley.db"
    copy_sqlite(sqlite_template, database)
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{database}",
        data_dir=tmp_path / "data",
        secret_key=SecretStr(TEST_SECRET_KEY),
        task_modules=(TOUCH_TASKS,),
    )
    assert settings.serves_worker
    touched = tmp_path / "touched"
    async with serving(settings, Metrics()) as state:
        from tests.support.touch_tasks import Touch  # noqa: PLC0415  (imported by the worker)

        await state.queue.enqueue(Touch(str(touched)))
        await eventually(touched.exists, what=f"{touched} created by the task")


def test_a_task_module_that_is_not_there_is_the_operators_to_fix() -> None:
    with pytest.raises(ConfigurationError, match=r"'tests\.support\.no_such_tasks'"):
        import_task_modules(["tests.support.no_such_tasks"])


def test_a_task_module_missing_a_dependency_keeps_its_own_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "needy_tasks.py").write_text("import parley_no_such_dependency\n")
    monkeypatch.syspath_prepend(tmp_path)
    monkeypatch.delitem(sys.modules, "needy_tasks", raising=False)
    with pytest.raises(ModuleNotFoundError, match="parley_no_such_dependency"):
        import_task_modules(["needy_tasks"])


def test_a_command_name_belongs_to_one_command() -> None:
    @dataclass(frozen=True, slots=True)
    class Impostor(Command):
        name: ClassVar[str] = "process_upload"

    async def handler(_command: Impostor) -> None:
        pass

    with pytest.raises(ValueError, match="'process_upload' is taken by ProcessUpload"):
        register_handler(Impostor, handler)
    assert Impostor not in registered_handlers()
