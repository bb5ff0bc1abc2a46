"""The Command pattern: each job is a typed, versioned, serialisable object.

A command travels as ``{"command": name, "version": n, "payload": {...}}``. A worker that
meets a name it does not know, or a version newer than its own, fails that job clearly (it
goes to the dead letters with the reason) instead of crashing or guessing.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import TypeAdapter, ValidationError

__all__ = [
    "COMMANDS",
    "Command",
    "ProcessUpload",
    "UnknownCommandError",
    "decode_command",
    "encode_command",
    "register_command",
]


class UnknownCommandError(Exception):
    """A job names a command (or a version of it) this worker cannot run."""


@dataclass(frozen=True, slots=True)
class Command:
    """Base of every command: a frozen dataclass with a stable ``name`` and a ``version``."""

    name: ClassVar[str]
    version: ClassVar[int] = 1


@dataclass(frozen=True, slots=True)
class ProcessUpload(Command):
    """Check an uploaded file, make its preview, and post it in its room."""

    name: ClassVar[str] = "process_upload"
    upload_id: uuid.UUID


# Every command a worker can run, by name: Parley's own, and those task modules register
# (``register_command``, or ``tasks/handlers.py`` with their handlers).
COMMANDS: dict[str, type[Command]] = {command.name: command for command in (ProcessUpload,)}
_ADAPTERS: dict[str, TypeAdapter[Command]] = {
    name: TypeAdapter(command) for name, command in COMMANDS.items()
}
# Payload fields to JSON types (UUIDs to text, and so on). Built once: building one is slow.
_PAYLOAD = TypeAdapter(dict[str, Any])


def register_command(command: type[Command]) -> type[Command]:
    """Make a further command known to this process's workers (usable as a decorator)."""
    COMMANDS[command.name] = command
    _ADAPTERS[command.name] = TypeAdapter(command)
    return command


def encode_command(command: Command) -> dict[str, Any]:
    payload = {field.name: getattr(command, field.name) for field in dataclasses.fields(command)}
    return {
        "command": command.name,
        "version": command.version,
        "payload": _PAYLOAD.dump_python(payload, mode="json"),
    }


def decode_command(data: dict[str, Any]) -> Command:
    name, version = data.get("command"), data.get("version")
    command_class = COMMANDS.get(name) if isinstance(name, str) else None
    if command_class is None:
        msg = f"unknown command {name!r}"
        raise UnknownCommandError(msg)
    if not isinstance(version, int) or version > command_class.version:
        msg = f"{name} version {version!r} is newer than this worker's {command_class.version}"
        raise UnknownCommandError(msg)
    try:
        return _ADAPTERS[command_class.name].validate_python(data.get("payload") or {})
    except ValidationError as error:
        msg = f"{name}: malformed payload ({error})"
        raise UnknownCommandError(msg) from error
