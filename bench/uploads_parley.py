"""Parley's side of uploads: every photograph posted through the REST API first, then one
``parley worker`` started to make their thumbnails.

Uploading is not measured: the worker starts only once every upload was answered 202 and
its job is queued. Progress is read from PostgreSQL (uploads no longer ``processing``), and
each upload's finishing time is its ``updated_at``, stamped by the worker as it records the
outcome.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import httpx

from bench.support.parley import Account, accounts, new_room, parley_cluster
from bench.uploads_progress import Thumbnails, follow

__all__ = ["parley_thumbnails"]

# Uploads in flight at once while filling the queue.
UPLOADS_AT_ONCE = 4


async def parley_thumbnails(workdir: Path, photos: list[Path], concurrency: int) -> Thumbnails:
    """Thumbnails of ``photos`` made by ``parley worker --concurrency {concurrency}``."""
    async with parley_cluster(workdir, 1) as cluster:
        base_url = cluster.url(0)
        [uploader] = await accounts(base_url, 1)
        room = await new_room(base_url, uploader, "photos")
        await _upload(base_url, uploader, room["id"], photos)
        database = await asyncpg.connect(
            cluster.database_url.replace("postgresql+asyncpg://", "postgresql://")
        )
        try:

            async def finished() -> int:
                count: int = await database.fetchval(
                    "SELECT count(*) FROM uploads WHERE status <> 'processing'"
                )
                return count

            worker = await cluster.start_worker(concurrency=concurrency)
            log = cluster.workdir / f"worker-{len(cluster.workers) - 1}.log"  # Cluster's naming
            cpu_seconds, cpu_thumbnails = await follow(finished, len(photos), worker, log)
            outcomes = await database.fetch("SELECT status, error, updated_at FROM uploads")
        finally:
            await database.close()
    failed = [row["error"] for row in outcomes if row["status"] != "done"]
    if failed:
        msg = f"{len(failed)} of {len(outcomes)} uploads failed, e.g. {failed[0]}"
        raise RuntimeError(msg)
    finished_at = [row["updated_at"].timestamp() for row in outcomes]
    return Thumbnails(finished_at, cpu_seconds, cpu_thumbnails)


async def _upload(base_url: str, uploader: Account, room_id: str, photos: list[Path]) -> None:
    gate = asyncio.Semaphore(UPLOADS_AT_ONCE)
    async with httpx.AsyncClient(base_url=base_url, headers=uploader.headers, timeout=60) as client:

        async def upload(photo: Path) -> None:
            async with gate:
                data = await asyncio.to_thread(photo.read_bytes)
                response = await client.post(
                    f"/api/rooms/{room_id}/uploads", files={"file": (photo.name, data)}
                )
            if response.status_code != 202:
                msg = f"uploading {photo.name}: {response.status_code} {response.text}"
                raise RuntimeError(msg)

        await asyncio.gather(*(upload(photo) for photo in photos))
