"""Peers and workers run as their own processes, like Parley's instances."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

__all__ = ["python_process", "raise_open_files_limit", "wait_for_port"]


def raise_open_files_limit() -> int:
    """Lift this process's soft limit on open files to the hard one (thousands of sockets);
    child processes inherit it. Returns the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


async def wait_for_port(port: int, process: asyncio.subprocess.Process, log: Path) -> None:
    for _ in range(300):
        if process.returncode is not None:
            msg = f"process exited with {process.returncode}:\n{log.read_text()[-3000:]}"
            raise RuntimeError(msg)
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        await writer.wait_closed()
        return
    msg = f"nothing listens on port {port}:\n{log.read_text()[-3000:]}"
    raise RuntimeError(msg)


@contextlib.asynccontextmanager
async def python_process(
    arguments: Sequence[str], log: Path, env: dict[str, str] | None = None
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``python <arguments>`` with output to ``log``; terminated (then killed) on exit."""
    with log.open("ab") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *arguments,
            env={**os.environ, **(env or {})},
            stdout=output,
            stderr=output,
        )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
