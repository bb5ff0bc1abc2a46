"""Real ``parley worker`` processes on Redis: nothing lost, everything done once."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest
import redis.asyncio as redis

from tests.support.commands import PARLEY
from tests.support.factories import Account, Json, create_account, create_room, messages_of
from tests.support.files import pdf_drawing_one_form_many_times, png
from tests.support.process_trees import (
    RESOURCE_TRACKER,
    all_ended,
    descendants,
    processing_processes,
)
from tests.support.processes import Cluster, RedisServer
from tests.support.waiting import eventually
from tests.support.ws import WsClient

FAST_JOBS = {
    "PARLEY_JOB_RECLAIM_AFTER": "3",
    "PARLEY_JOB_MAX_ATTEMPTS": "3",
}


@dataclass
class Setting:
    """Two instances on a Redis of the test's own, and a member of a room, signed in."""

    cluster: Cluster
    api: httpx.AsyncClient
    account: Account
    room_id: str
    redis: RedisServer


@pytest.fixture
async def setting(
    postgres_url: str, private_redis: RedisServer, tmp_path: Path
) -> AsyncIterator[Setting]:
    cluster = Cluster(postgres_url, private_redis.url, tmp_path, extra_env=FAST_JOBS)
    await cluster.start(2)
    try:
        async with httpx.AsyncClient(base_url=cluster.url(0), timeout=30) as api:
            account = await create_account(api)
            room_id = str((await create_room(api, account))["id"])
            yield Setting(cluster, api, account, room_id, private_redis)
    finally:
        await cluster.close()


async def _upload_many(
    api: httpx.AsyncClient, account: Account, room_id: str, count: int
) -> list[str]:
    ids = []
    for n in range(count):
        response = await api.post(
            f"/api/rooms/{room_id}/uploads",
            files={"file": (f"{n}.png", png(900 + n, 600), "image/png")},
            headers=account.headers,
        )
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])
    return ids


async def _all_finished(
    api: httpx.AsyncClient, account: Account, ids: list[str], within: float
) -> list[Json]:
    async def uploads() -> list[Json]:
        return [
            (await api.get(f"/api/uploads/{upload_id}", headers=account.headers)).json()
            for upload_id in ids
        ]

    return await eventually(
        uploads,
        lambda found: all(upload["status"] != "processing" for upload in found),
        within=within,
        every=0.25,
        what=f"{len(ids)} uploads processed",
    )


async def _any_done(api: httpx.AsyncClient, account: Account, ids: list[str]) -> bool:
    for upload_id in ids:
        upload = (await api.get(f"/api/uploads/{upload_id}", headers=account.headers)).json()
        if upload["status"] == "done":
            return True
    return False


async def _one_message_each(
    api: httpx.AsyncClient, account: Account, room_id: str, ids: list[str]
) -> None:
    history = await messages_of(api, account, room_id, limit=200)
    posted = sorted(m["attachment"]["upload_id"] for m in history if m["kind"] == "image")
    assert posted == sorted(ids)  # each upload exactly once


async def test_a_worker_killed_mid_batch_loses_nothing_and_doubles_nothing(
    setting: Setting,
) -> None:
    api, account, room_id = setting.api, setting.account, setting.room_id
    ids = await _upload_many(api, account, room_id, 12)
    worker = await setting.cluster.start_worker(concurrency=2)
    # Let it get going, then kill it with jobs in hand.
    await eventually(lambda: _any_done(api, account, ids), within=60, every=0.1)
    worker.send_signal(signal.SIGKILL)
    await worker.wait()
    await setting.cluster.start_worker(concurrency=2)
    uploads = await _all_finished(api, account, ids, within=90)
    assert {u["status"] for u in uploads} == {"done"}
    await _one_message_each(api, account, room_id, ids)


async def test_a_sigterm_lets_the_worker_finish_what_it_holds(setting: Setting) -> None:
    api, account, room_id = setting.api, setting.account, setting.room_id
    ids = await _upload_many(api, account, room_id, 8)
    worker = await setting.cluster.start_worker(concurrency=2)
    await eventually(lambda: _any_done(api, account, ids), within=60, every=0.1)
    worker.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(worker.wait(), 40) == 0
    await setting.cluster.start_worker(concurrency=2)
    uploads = await _all_finished(api, account, ids, within=90)
    assert {u["status"] for u in uploads} == {"done"}
    await _one_message_each(api, account, room_id, ids)


async def test_redis_flushed_while_jobs_wait_and_the_sweeper_finishes_them(
    setting: Setting,
) -> None:
    api, account, room_id = setting.api, setting.account, setting.room_id
    ids = await _upload_many(api, account, room_id, 5)
    client = redis.Redis.from_url(setting.redis.url)
    await client.flushall()  # the queue forgets every job
    await client.aclose()
    started = time.monotonic()
    await setting.cluster.start_worker(concurrency=2)
    uploads = await _all_finished(api, account, ids, within=60)
    assert {u["status"] for u in uploads} == {"done"}
    print(f"\nafter FLUSHALL, all uploads done in {time.monotonic() - started:.1f}s")  # noqa: T201
    await _one_message_each(api, account, room_id, ids)


async def test_a_job_that_always_fails_is_dead_lettered(setting: Setting, tmp_path: Path) -> None:
    await _upload_many(setting.api, setting.account, setting.room_id, 1)
    # Its file vanishes from storage: every attempt fails the same way.
    for path in (tmp_path / "data" / "files" / "uploads").iterdir():
        path.unlink()
    await setting.cluster.start_worker(concurrency=1)

    async def queue_report() -> str:
        process = await asyncio.create_subprocess_exec(
            *PARLEY,
            "queue",
            env=setting.cluster.env(),
            stdout=asyncio.subprocess.PIPE,
        )
        return (await process.communicate())[0].decode()

    report = await eventually(
        queue_report, lambda report: "FileNotFoundError" in report, within=60, every=0.5
    )
    assert "dead        1" in report
    assert "attempt 3" in report


async def test_the_uploader_hears_of_it_on_any_instance(setting: Setting) -> None:
    socket = await WsClient.authenticated(setting.cluster.url(1), setting.account.access_token)
    await setting.cluster.start_worker(concurrency=1)
    [upload_id] = await _upload_many(setting.api, setting.account, setting.room_id, 1)
    events = [(await socket.recv_type("upload", within=60))["upload"] for _ in range(2)]
    assert [(e["id"], e["status"]) for e in events] == [
        (upload_id, "processing"),
        (upload_id, "done"),
    ]


async def test_a_file_that_would_keep_a_parser_busy_fails_and_the_worker_goes_on(
    setting: Setting,
) -> None:
    """A kilobyte of PDF that takes minutes to parse: rejected at its CPU limit (half the
    job's timeout), not retried, and the processing process is free for the next file."""
    api, account, room_id = setting.api, setting.account, setting.room_id
    await setting.cluster.start_worker(concurrency=1, extra_env={"PARLEY_JOB_TIMEOUT": "6"})
    response = await api.post(
        f"/api/rooms/{room_id}/uploads",
        files={"file": ("forms.pdf", pdf_drawing_one_form_many_times(), "application/pdf")},
        headers=account.headers,
    )
    assert response.status_code == 202, response.text
    [slow] = await _all_finished(api, account, [response.json()["id"]], within=60)
    assert slow["status"] == "failed"
    assert slow["error"] == "the file took more than 3 s of CPU to process"
    ids = await _upload_many(api, account, room_id, 1)
    assert [u["status"] for u in await _all_finished(api, account, ids, within=60)] == ["done"]


async def test_a_processing_process_killed_leaves_the_worker_working(setting: Setting) -> None:
    api, account, room_id = setting.api, setting.account, setting.room_id
    worker = await setting.cluster.start_worker(concurrency=1)
    first = await _upload_many(api, account, room_id, 1)
    assert [u["status"] for u in await _all_finished(api, account, first, within=60)] == ["done"]
    (processing,) = [
        child
        for child in psutil.Process(worker.pid).children()
        if "resource_tracker" not in " ".join(child.cmdline())
    ]
    processing.kill()  # as the kernel's OOM killer would
    ids = await _upload_many(api, account, room_id, 3)
    uploads = await _all_finished(api, account, ids, within=60)
    assert {u["status"] for u in uploads} == {"done"}  # it used to fail every one for good
    await _one_message_each(api, account, room_id, first + ids)


async def test_a_worker_killed_leaves_none_of_its_processes_behind(setting: Setting) -> None:
    """Killed as the kernel's OOM killer would: its processing processes and multiprocessing's
    resource tracker end with it, rather than waiting for work forever (about 47 MB each)."""
    api, account, room_id = setting.api, setting.account, setting.room_id
    worker = await setting.cluster.start_worker(concurrency=2)
    ids = await _upload_many(api, account, room_id, 4)
    assert {u["status"] for u in await _all_finished(api, account, ids, within=60)} == {"done"}
    helpers = descendants(worker.pid)
    commands = [" ".join(helper.cmdline()) for helper in helpers]
    assert sum(RESOURCE_TRACKER in command for command in commands) == 1, commands
    assert len(helpers) >= 2, commands  # the tracker and at least one processing process
    worker.send_signal(signal.SIGKILL)
    await worker.wait()
    await all_ended(helpers, within=10)


async def test_a_file_starved_of_cpu_is_rejected_once_for_its_cpu(
    setting: Setting, postgres_url: str
) -> None:
    """On a loaded host a processing process gets a fraction of a core, and the job's clock
    runs on. Here it gets none for twice the job's timeout (stopped, then let go): the file is
    still rejected at its CPU limit, at its first attempt, and not retried."""
    api, account, room_id = setting.api, setting.account, setting.room_id
    worker = await setting.cluster.start_worker(
        concurrency=1, extra_env={"PARLEY_JOB_TIMEOUT": "4"}
    )
    response = await api.post(
        f"/api/rooms/{room_id}/uploads",
        files={"file": ("forms.pdf", pdf_drawing_one_form_many_times(), "application/pdf")},
        headers=account.headers,
    )
    assert response.status_code == 202, response.text
    upload_id = response.json()["id"]
    [processing] = await eventually(  # spawned for the file's job
        lambda: processing_processes(worker.pid), within=60, every=0.02
    )
    processing.suspend()
    await asyncio.sleep(8)
    processing.resume()
    [slow] = await _all_finished(api, account, [upload_id], within=60)
    assert (slow["status"], slow["error"]) == (
        "failed",
        "the file took more than 2 s of CPU to process",
    )
    assert await _attempts(postgres_url, upload_id) == 1


async def _attempts(postgres_url: str, upload_id: str) -> int:
    """How many times a worker took the upload up."""
    connection = await asyncpg.connect(postgres_url.replace("+asyncpg", ""))
    try:
        attempts: int = await connection.fetchval(
            "SELECT attempts FROM uploads WHERE id = $1", uuid.UUID(upload_id)
        )
    finally:
        await connection.close()
    return attempts
