"""Debian's nginx running the shipped ``deploy/nginx.conf`` in front of a test's instances."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.commands import dying_with_the_test
from tests.support.ports import free_port
from tests.support.waiting import eventually

__all__ = ["SHIPPED_CONFIG", "Nginx"]

SHIPPED_CONFIG = Path(__file__).parents[2] / "deploy" / "nginx.conf"
_UPSTREAM_SERVERS = re.compile(r"^([ \t]*)server app\d+:8000[^;]*;\n", re.MULTILINE)
_LISTEN = re.compile(r"^([ \t]*)listen 80;$", re.MULTILINE)


def _nginx_binary() -> str:
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(found).exists():
        msg = "nginx is not installed (scripts/bootstrap installs Debian's nginx-light)"
        raise RuntimeError(msg)
    return found


def local_config(shipped: str, upstreams: list[str], port: int) -> str:
    """The shipped configuration, its upstream servers and its port replaced by this test's."""
    indents = _UPSTREAM_SERVERS.findall(shipped)
    if not indents or not _LISTEN.search(shipped):
        msg = "deploy/nginx.conf no longer has `server appN:8000` upstreams and `listen 80;`"
        raise AssertionError(msg)
    ours = "".join(f"{indents[0]}server {upstream};\n" for upstream in upstreams)
    # Every shipped upstream server goes; this test's take the place of the last.
    config = _UPSTREAM_SERVERS.sub("", shipped, count=len(indents) - 1)
    config = _UPSTREAM_SERVERS.sub(lambda _: ours, config, count=1)
    return _LISTEN.sub(rf"\g<1>listen 127.0.0.1:{port};", config)


@dataclass
class Nginx:
    """An nginx of the test's own (a foreground process, on a free port of 127.0.0.1)."""

    workdir: Path
    upstreams: list[str]  # host:port of each instance
    port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def prefix(self) -> Path:
        return self.workdir / "nginx"

    async def start(self) -> None:
        (self.prefix / "logs").mkdir(parents=True, exist_ok=True)
        config = self.prefix / "nginx.conf"
        config.write_text(local_config(SHIPPED_CONFIG.read_text(), self.upstreams, self.port))
        directives = f"daemon off; pid {self.prefix / 'nginx.pid'}; error_log stderr;"
        if os.geteuid() == 0:
            directives += " user root;"  # workers reach the test's private temp dir
        log = (self.prefix / "logs" / "stderr.log").open("ab")
        with log:
            self.process = await asyncio.create_subprocess_exec(
                *dying_with_the_test(
                    _nginx_binary(), "-p", str(self.prefix), "-c", str(config), "-g", directives
                ),
                stdout=log,
                stderr=log,
            )
        await self._wait_until_ready()

    async def _wait_until_ready(self) -> None:
        process = self.process
        assert process is not None

        async def healthy() -> bool:
            if process.returncode is not None:
                msg = f"nginx exited with {process.returncode}"
                raise RuntimeError(msg)
            return (await client.get(f"{self.url}/healthz")).status_code == 200

        try:
            async with httpx.AsyncClient(timeout=2) as client:
                await eventually(healthy, within=30, every=0.1, ignoring=(httpx.TransportError,))
        except (AssertionError, RuntimeError) as error:
            tail = (self.prefix / "logs" / "stderr.log").read_text()[-3000:]
            msg = f"nginx did not come up on {self.url} ({error}):\n{tail}"
            raise RuntimeError(msg) from None

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()  # fast shutdown: sockets are not waited for
            await asyncio.wait_for(self.process.wait(), 30)
