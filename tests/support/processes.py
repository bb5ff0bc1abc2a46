"""Real processes for cluster tests: ``parley serve`` instances and a private Redis."""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.commands import PARLEY, dying_with_the_test
from tests.support.ports import free_port
from tests.support.waiting import eventually

__all__ = ["Cluster", "EmbeddedServer", "RedisServer", "wait_until_ready"]


async def wait_until_ready(
    url: str, process: asyncio.subprocess.Process, log: Path | None = None
) -> httpx.Response:
    """The first ``200`` answer of the ``parley serve`` at ``url`` to ``/readyz``; fails with
    the tail of its ``log``, if it has one, when it exits first or is not ready in a minute."""

    def tail() -> str:
        return "" if log is None else f":\n{log.read_text()[-3000:]}"

    async with httpx.AsyncClient(timeout=2) as client:

        async def readiness() -> httpx.Response:
            if process.returncode is not None:
                said = await asyncio.to_thread(tail)
                msg = f"parley serve exited with {process.returncode}{said}"
                raise RuntimeError(msg)
            return await client.get(f"{url}/readyz")

        try:
            return await eventually(
                readiness,
                lambda response: response.status_code == 200,
                within=60,
                every=0.1,
                ignoring=(httpx.TransportError,),
            )
        except AssertionError as error:
            said = await asyncio.to_thread(tail)
            msg = f"parley serve at {url} did not become ready ({error}){said}"
            raise RuntimeError(msg) from None


@dataclass
class Instance:
    port: int
    log: Path
    process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Cluster:
    """``parley serve`` processes sharing one PostgreSQL database and one Redis."""

    database_url: str
    redis_url: str
    workdir: Path
    namespace: str = field(default_factory=lambda: f"test-{uuid.uuid4().hex[:10]}")
    extra_env: dict[str, str] = field(default_factory=dict)
    instances: list[Instance] = field(default_factory=list)
    workers: list[asyncio.subprocess.Process] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
        env.update(
            PARLEY_DATABASE_URL=self.database_url,
            PARLEY_REDIS_URL=self.redis_url,
            PARLEY_REDIS_NAMESPACE=self.namespace,
            PARLEY_SECRET_KEY="cluster-test-secret-key-0123456789-0123456789-0123456789",
            PARLEY_DATA_DIR=str(self.workdir / "data"),
            PARLEY_RATE_LIMITS="off",
        )
        env.update(self.extra_env)
        return env

    async def start(self, size: int) -> None:
        for index in range(size):
            self.instances.append(Instance(free_port(), self.workdir / f"serve-{index}.log"))
        await asyncio.gather(*(self.restart(index) for index in range(size)))

    async def restart(self, index: int) -> None:
        instance = self.instances[index]
        with instance.log.open("ab") as log:
            instance.process = await asyncio.create_subprocess_exec(
                *PARLEY,
                "serve",
                "--port",
                str(instance.port),
                env=self.env(),
                cwd=self.workdir,
                stdout=log,
                stderr=log,
            )
        await wait_until_ready(instance.url, instance.process, instance.log)

    async def start_worker(
        self, *, concurrency: int = 2, extra_env: dict[str, str] | None = None
    ) -> asyncio.subprocess.Process:
        log = self.workdir / f"worker-{len(self.workers)}.log"
        with log.open("ab") as output:
            process = await asyncio.create_subprocess_exec(
                *PARLEY,
                "worker",
                "--concurrency",
                str(concurrency),
                env=self.env() | (extra_env or {}),
                cwd=self.workdir,
                stdout=output,
                stderr=output,
            )
        self.workers.append(process)
        return process

    def url(self, index: int) -> str:
        return self.instances[index].url

    async def kill(self, index: int) -> None:
        await self._signal(index, signal.SIGKILL)

    async def stop(self, index: int) -> None:
        await self._signal(index, signal.SIGTERM)

    async def _signal(self, index: int, signum: int) -> None:
        process = self.instances[index].process
        if process is None or process.returncode is not None:
            return
        process.send_signal(signum)
        await asyncio.wait_for(process.wait(), 30)

    async def close(self) -> None:
        await asyncio.gather(*(self.stop(index) for index in range(len(self.instances))))
        for worker in self.workers:
            if worker.returncode is None:
                worker.terminate()
                await asyncio.wait_for(worker.wait(), 30)


@dataclass
class RedisServer:
    """A Redis of the test's own, on a free port, that the test may kill and restart."""

    workdir: Path
    port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def socket_path(self) -> Path:
        """It listens on this Unix socket as well (short: a socket's path has 107 bytes)."""
        return Path(tempfile.gettempdir()) / f"parley-test-redis-{self.port}.sock"

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *dying_with_the_test(
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--unixsocket",
                str(self.socket_path),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        _, writer = await eventually(
            lambda: asyncio.open_connection("127.0.0.1", self.port),
            within=30,
            every=0.05,
            what=f"redis-server listening on port {self.port}",
            ignoring=(OSError,),
        )
        writer.close()
        await writer.wait_closed()

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        self.socket_path.unlink(missing_ok=True)

    def freeze(self) -> None:
        """Stop the process but not its sockets: connections stay open and go silent."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


@dataclass
class EmbeddedServer:
    """``parley serve`` on the embedded default: nothing configured but a data dir."""

    workdir: Path
    instance: Instance = field(init=False)

    def __post_init__(self) -> None:
        self.instance = Instance(free_port(), self.workdir / "serve-embedded.log")

    @property
    def url(self) -> str:
        return self.instance.url

    async def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
        env["PARLEY_DATA_DIR"] = str(self.workdir / "data")
        with self.instance.log.open("ab") as log:
            self.instance.process = await asyncio.create_subprocess_exec(
                *PARLEY,
                "serve",
                "--port",
                str(self.instance.port),
                env=env,
                cwd=self.workdir,
                stdout=log,
                stderr=log,
            )
        await wait_until_ready(self.url, self.instance.process, self.instance.log)

    async def stop(self) -> None:
        process = self.instance.process
        if process is not None and process.returncode is None:
            process.terminate()
            await asyncio.wait_for(process.wait(), 30)
