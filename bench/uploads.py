"""Uploads: 200 photographs of 12 megapixels through one worker, beside a plain Pillow loop.

Parley: the photographs are posted to a room first (not measured), then one ``parley worker``
makes their thumbnails. The floor: ``bench.peers.pillow_thumbnails``, a multiprocessing pool
making the same thumbnails from the same files. Both use as many processes as the worker
runs at its default concurrency. Thumbnails/s counts those finished after the first, over
the time from the first to the last, so that neither side's start-up is in it; CPU is that
of the worker (or the floor) and its children over the same span.

    uv run python -m bench.uploads [--smoke]
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bench.support.runner import run_scenario
from bench.support.stats import ratio
from bench.support.table import Table
from bench.uploads_floor import floor_thumbnails
from bench.uploads_parley import parley_thumbnails
from bench.uploads_photos import write_photos
from bench.uploads_progress import Thumbnails
from parley.core.settings import Settings

__all__ = ["run"]

PHOTOS, PHOTO_SIZE = 200, (4000, 3000)
SMOKE_PHOTOS, SMOKE_PHOTO_SIZE = 4, (800, 600)
TARGET = 0.8  # Parley's thumbnails/s, as a share of the floor's
# `parley worker` runs this many jobs at once, each image in a process of its pool of as many.
PROCESSES = int(Settings.model_fields["worker_concurrency"].default)
TIMEOUT = 600.0


async def run(workdir: Path, smoke: bool) -> list[Table]:
    count, size = (SMOKE_PHOTOS, SMOKE_PHOTO_SIZE) if smoke else (PHOTOS, PHOTO_SIZE)
    photos = await asyncio.to_thread(write_photos, workdir / "photos", count, size)
    async with asyncio.timeout(TIMEOUT):
        floor = await floor_thumbnails(workdir, photos, PROCESSES)
        parley = await parley_thumbnails(workdir, photos, PROCESSES)
    return [_table(parley, floor, count, size)]


def _table(parley: Thumbnails, floor: Thumbnails, count: int, size: tuple[int, int]) -> Table:
    width, height = size
    table = Table(
        f"Uploads: {count} JPEG photographs of {width}x{height} ({width * height / 1e6:.1f} MP) "
        f"to WebP thumbnails, {PROCESSES} processes each",
        ["contender", "thumbnails/s", "CPU ms/thumbnail", "÷ floor", "target", "met"],
    )
    share = ratio(parley.per_second, floor.per_second)
    table.add(
        f"Parley: one `parley worker --concurrency {PROCESSES}`",
        parley.per_second,
        parley.cpu_millis_per_thumbnail,
        share,
        f"≥ {TARGET}x floor",
        "yes" if share >= TARGET else "no",
    )
    table.add(
        f"floor: Pillow in multiprocessing.Pool({PROCESSES})",
        floor.per_second,
        floor.cpu_millis_per_thumbnail,
        1.0,
        "-",
        "-",
    )
    return table


if __name__ == "__main__":
    run_scenario(run, "Uploads: Parley's worker making thumbnails beside a plain Pillow loop")
