"""A stage for browser tests: one two-instance cluster (and a worker, if asked) shared by the
tests of a module, each test bringing its own people, so starting processes is paid once."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from tests.support.databases import PostgresServer
from tests.support.factories import Account, Json, create_account, unique_username
from tests.support.processes import Cluster, RedisServer
from tests.support.uploads import finished_upload

__all__ = ["Stage", "open_stage"]


@dataclass
class Stage:
    cluster: Cluster
    postgres: PostgresServer
    database: str
    http: httpx.AsyncClient

    def url(self, index: int) -> str:
        return self.cluster.url(index)

    async def account(self, prefix: str) -> Account:
        return await create_account(self.http, unique_username(prefix))

    async def room(self, owner: Account, name: str, *members: Account) -> Json:
        response = await self.http.post("/api/rooms", json={"name": name}, headers=owner.headers)
        assert response.status_code == 201, response.text
        room: Json = response.json()
        for member in members:
            joined = await self.http.post(f"/api/rooms/{room['id']}/join", headers=member.headers)
            assert joined.status_code == 200, joined.text
        return room

    async def say(self, account: Account, room_id: str, body: str) -> Json:
        response = await self.http.post(
            f"/api/rooms/{room_id}/messages", json={"body": body}, headers=account.headers
        )
        assert response.status_code == 201, response.text
        message: Json = response.json()
        return message

    async def chatter(self, account: Account, room_id: str, prefix: str, count: int) -> None:
        """Fill a room with messages (together: their order does not matter here)."""
        await asyncio.gather(*(self.say(account, room_id, f"{prefix} {n}") for n in range(count)))

    async def upload(self, account: Account, room_id: str, name: str, data: bytes) -> Json:
        response = await self.http.post(
            f"/api/rooms/{room_id}/uploads", files={"file": (name, data)}, headers=account.headers
        )
        assert response.status_code == 202, response.text
        accepted: Json = response.json()
        return accepted

    async def processed(self, account: Account, upload_id: str) -> None:
        """Wait for the worker to finish an upload (its message is in the room then)."""
        upload = await finished_upload(self.http, account, upload_id)
        assert upload["status"] == "done", upload

    async def backdate(self, room_id: str, *, up_to_seq: int, days: int) -> None:
        """Move a room's first messages into the past, behind the app's back."""
        connection = await asyncpg.connect(f"{self.postgres.server_url}/{self.database}")
        try:
            await connection.execute(
                "UPDATE messages SET created_at = created_at - make_interval(days => $1) "
                "WHERE room_id = $2 AND seq <= $3",
                days,
                uuid.UUID(room_id),
                up_to_seq,
            )
        finally:
            await connection.close()

    @contextlib.asynccontextmanager
    async def down(self, index: int) -> AsyncIterator[None]:
        """An instance stopped for the block, started again after it, whatever happens."""
        await self.cluster.stop(index)
        try:
            yield
        finally:
            await self.cluster.restart(index)

    def freeze(self, index: int) -> None:
        """Stop an instance without closing its sockets: its connections go silent."""
        process = self.cluster.instances[index].process
        assert process is not None
        process.send_signal(signal.SIGSTOP)

    def thaw(self, index: int) -> None:
        process = self.cluster.instances[index].process
        assert process is not None
        process.send_signal(signal.SIGCONT)


@contextlib.asynccontextmanager
async def open_stage(
    postgres: PostgresServer,
    workdir: Path,
    *,
    env: dict[str, str] | None = None,
    worker: bool = False,
) -> AsyncIterator[Stage]:
    database = await postgres.create_database()
    redis = RedisServer(workdir)
    await redis.start()
    cluster = Cluster(postgres.async_url(database), redis.url, workdir, extra_env=env or {})
    try:
        await cluster.start(2)
        if worker:
            await cluster.start_worker(concurrency=1)
        async with httpx.AsyncClient(base_url=cluster.url(0), timeout=30) as http:
            yield Stage(cluster, postgres, database, http)
    finally:
        # A test that failed while an instance was frozen must not leave it unstoppable.
        for instance in cluster.instances:
            if instance.process is not None and instance.process.returncode is None:
                instance.process.send_signal(signal.SIGCONT)
        await cluster.close()
        await redis.kill()
        await postgres.drop_database(database)
