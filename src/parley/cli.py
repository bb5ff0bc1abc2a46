"""The ``parley`` command: ``serve``, ``worker``, ``migrate`` and ``queue``."""

from __future__ import annotations

import argparse
import asyncio
import logging.config
import sys
from collections.abc import Callable, Sequence

from parley.core.errors import ConfigurationError
from parley.core.logging import logging_config
from parley.core.secret_key import with_secret_key
from parley.core.settings import Settings
from parley.db.engine import create_engine
from parley.db.migrate import upgrade_to_head
from parley.server import build_server
from parley.worker_process import queue_report, run_worker

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings()
        args.run(settings, args)
    except ConfigurationError as error:
        print(f"parley: configuration error: {error}", file=sys.stderr)  # noqa: T201
        raise SystemExit(2) from error


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parley", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the API, the WebSocket endpoint and the web UI")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    serve.set_defaults(run=_serve)

    migrate = commands.add_parser("migrate", help="apply the database migrations")
    migrate.set_defaults(run=_migrate)

    worker = commands.add_parser("worker", help="run background jobs from the Redis queue")
    worker.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="processing processes; twice as many jobs at once (PARLEY_WORKER_CONCURRENCY)",
    )
    worker.add_argument(
        "--metrics-port", type=int, default=None, help="serve Prometheus metrics on 127.0.0.1"
    )
    worker.set_defaults(run=_worker)

    queue = commands.add_parser("queue", help="show the queue: depth, in flight, dead letters")
    queue.add_argument("--dead", type=int, default=20, help="dead letters to list (default 20)")
    queue.set_defaults(run=_queue)
    return parser


def _serve(settings: Settings, args: argparse.Namespace) -> None:
    settings = with_secret_key(settings)  # refuse a cluster config without a key, up front
    if settings.is_embedded:
        print(  # noqa: T201
            f"parley: embedded default (SQLite, in-process broker and worker), "
            f"data in {settings.data_dir.resolve()}",
            file=sys.stderr,
        )
    build_server(settings, host=args.host, port=args.port).run()


def _migrate(settings: Settings, _args: argparse.Namespace) -> None:
    async def run() -> None:
        if settings.is_embedded:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings.effective_database_url, pool_size=1)
        try:
            await upgrade_to_head(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
    print("parley: the database schema is up to date", file=sys.stderr)  # noqa: T201


def _worker(settings: Settings, args: argparse.Namespace) -> None:
    logging.config.dictConfig(logging_config())
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
