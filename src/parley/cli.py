"""The parley command: serve, worker, migrate and queue."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from pydantic import ValidationError

from parley.composition.task_modules import import_task_modules
from parley.core.errors import ConfigurationError
from parley.core.logging import configure_logging
from parley.core.private_files import prepare_data_dir
from parley.core.secret_key import with_secret_key
from parley.core.settings import Settings, module_names
from parley.db.engine import create_engine
from parley.db.migrate import schema_state, upgrade_to_head
from parley.diagnosis import explain, explain_settings
from parley.server import build_server
from parley.worker_process import queue_report, run_worker

__all__ = ["main"]

log = logging.getLogger("parley.cli")

# Exit codes: the settings or the options cannot work (2), or what they point at is not
# there or not answering (1).
_EXIT_CONFIGURATION = 2
_EXIT_UNAVAILABLE = 1


def main(argv: Sequence[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as error:
        _fail(explain_settings(error), _EXIT_CONFIGURATION, error)
    try:
        args.run(settings, args)
    except Exception as error:
        message = explain(error, settings)
        if message is None:
            raise  # not the operator's to fix: a bug, with its traceback
        code = _EXIT_CONFIGURATION if isinstance(error, ConfigurationError) else _EXIT_UNAVAILABLE
        _fail(message, code, error)


def _fail(message: str, code: int, error: BaseException) -> NoReturn:
    for line in message.splitlines():
        print(f"parley: {line}", file=sys.stderr)  # noqa: T201
    raise SystemExit(code) from error


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parley",
        description="Parley: real-time chat and background tasks. Settings come from "
        "PARLEY_* environment variables (docs/operations.md).",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the API, the WebSocket endpoint and the web UI")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8000, help="port to bind (default 8000)")
    serve.add_argument(
        "--migrate",
        action="store_true",
        help="on PostgreSQL, apply the migrations first (otherwise serve refuses a schema "
        "behind the code)",
    )
    serve.set_defaults(run=_serve)

    migrate = commands.add_parser("migrate", help="apply the database migrations")
    migrate.set_defaults(run=_migrate)

    worker = commands.add_parser("worker", help="run background jobs from the Redis queue")
    worker.add_argument(
        "--concurrency",
        type=_bounded(1, 256),
        default=None,
        help="processing processes, 1 to 256; twice as many jobs at once "
        "(default PARLEY_WORKER_CONCURRENCY)",
    )
    worker.add_argument(
        "--metrics-port", type=_port, default=None, help="serve Prometheus metrics on 127.0.0.1"
    )
    worker.add_argument(
        "--tasks",
        type=_modules,
        default=None,
        metavar="MODULE[,MODULE...]",
        help="modules to import at start, which register commands and their handlers "
        "(default PARLEY_TASK_MODULES)",
    )
    worker.set_defaults(run=_worker)

    queue = commands.add_parser("queue", help="show the queue: depth, in flight, dead letters")
    queue.add_argument(
        "--dead", type=_bounded(0, 1000), default=20, help="dead letters to list, 0 to 1000 (20)"
    )
    queue.set_defaults(run=_queue)
    return parser


def _bounded(low: int, high: int) -> Callable[[str], int]:
    def whole_number(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            msg = f"{text!r} is not a whole number"
            raise argparse.ArgumentTypeError(msg) from None
        if not low <= value <= high:
            msg = f"{value} is out of range: {low} to {high}"
            raise argparse.ArgumentTypeError(msg)
        return value

    return whole_number


_port = _bounded(1, 65535)


def _modules(text: str) -> tuple[str, ...]:
    try:
        return module_names(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _serve(settings: Settings, args: argparse.Namespace) -> None:
    settings = with_secret_key(settings)  # refuse a cluster config without a key, up front
    if settings.serves_worker:
        # Up front too: a module missing is the operator's to fix, not a failed start-up.
        import_task_modules(settings.task_modules)
    configure_logging()  # JSON lines from here on (uvicorn installs the same again)
    if settings.is_embedded:
        log.info(
            "embedded default (SQLite, in-process broker and worker), data in %s",
            settings.data_dir.resolve(),
        )
    else:
        asyncio.run(_schema_ready(settings, migrate=args.migrate))
    build_server(settings, host=args.host, port=args.port).run()


async def _schema_ready(settings: Settings, *, migrate: bool) -> None:
    """Refuse to run on a schema behind the code: every request would fail on it."""
    engine = create_engine(settings.effective_database_url, pool_size=1)
    try:
        if migrate:
            await upgrade_to_head(engine)
        state = await schema_state(engine)
    finally:
        await engine.dispose()
    if not state.current:
        msg = f"{state.describe()}: run `parley migrate` (or `parley serve --migrate`) first."
        raise ConfigurationError(msg)


def _migrate(settings: Settings, _args: argparse.Namespace) -> None:
    async def run() -> None:
        if settings.is_embedded:
            prepare_data_dir(settings)  # private, the database made 0600 before SQLite opens it
        engine = create_engine(settings.effective_database_url, pool_size=1)
        try:
            await upgrade_to_head(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
    print("parley: the database schema is up to date", file=sys.stderr)  # noqa: T201


def _worker(settings: Settings, args: argparse.Namespace) -> None:
    if args.tasks is not None:
        settings = settings.model_copy(update={"task_modules": args.tasks})
    if not settings.is_embedded:
        asyncio.run(_schema_ready(settings, migrate=False))
    configure_logging()
    # uvloop, as `parley serve` has through uvicorn: a worker's time per job is mostly event
    # loop (a claim's answer to the job's start), and uvloop's is the faster one. It comes with
    # uvicorn's standard extra wherever it builds; elsewhere the standard loop runs.
    with asyncio.Runner(loop_factory=_fastest_event_loop()) as runner:
        runner.run(run_worker(settings, args.concurrency, args.metrics_port))


def _fastest_event_loop() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop  # noqa: PLC0415  (optional: not built on every platform)
    except ImportError:
        return None
    return uvloop.new_event_loop


def _queue(settings: Settings, args: argparse.Namespace) -> None:
    stats, letters = asyncio.run(queue_report(settings, args.dead))
    lines = [
        f"waiting     {stats.depth}",
        f"in flight   {stats.in_flight}",
        f"delayed     {stats.delayed}  (retries waiting for their backoff)",
        f"retries     {stats.retries}  (scheduled so far)",
        f"dead        {stats.dead}",
        *(f"  {letter}" for letter in letters),
    ]
    print("\n".join(lines))  # noqa: T201
