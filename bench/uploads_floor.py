"""The floor's side of uploads: ``bench.peers.pillow_thumbnails`` over the photographs."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bench.support.spawn import python_process
from bench.uploads_progress import Thumbnails, follow

__all__ = ["floor_thumbnails"]


async def floor_thumbnails(workdir: Path, photos: list[Path], processes: int) -> Thumbnails:
    """Thumbnails of ``photos`` (all in one directory) made by ``processes`` processes."""
    log = workdir / "pillow-thumbnails.log"
    arguments = [
        "-m",
        "bench.peers.pillow_thumbnails",
        str(photos[0].parent),
        str(workdir / "pillow-thumbnails"),
        f"--processes={processes}",
    ]

    async def finished() -> int:
        # The floor prints one line per thumbnail finished.
        return (await asyncio.to_thread(log.read_text)).count("\n")

    async with python_process(arguments, log) as process:
        cpu_seconds, cpu_thumbnails = await follow(finished, len(photos), process, log)
    finished_at = [float(line) for line in log.read_text().split()]
    return Thumbnails(finished_at, cpu_seconds, cpu_thumbnails)
