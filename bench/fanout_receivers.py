"""Receiver processes of the fan-out: many subscribed sockets each, timing every delivery.

One Python process cannot read 200 busy sockets on its own without becoming what is
measured, so the receivers are spread over a few processes. Each is
``python -m bench.fanout_receivers``, driven by lines on its standard streams:

    parent → plan (JSON)    child → "ready" once every socket is signed in and subscribed
    parent → "sent"         child → report (JSON), once every socket has all the messages
                                    or nothing has arrived for ``QUIET_SECONDS``
    parent → "close"        the child closes its sockets and exits

The report is sent before the sockets close so that closing them costs the servers
nothing inside the measured window.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from bench.fanout_clock import now_ns, sent_at
from bench.fanout_dialects import DIALECTS, Dialect, open_socket

__all__ = ["ReceiverPlan", "ReceiverProcess", "ReceiverReport"]

QUIET_SECONDS = 3.0
# Sockets opened at once: a burst of thousands overflows the servers' listen backlogs.
OPENING_AT_ONCE = 50
# A report holds one latency per delivery: hundreds of thousands of numbers on one line.
_REPORT_LINE_LIMIT = 256 * 2**20


@dataclass(frozen=True)
class ReceiverPlan:
    dialect: str  # a key of DIALECTS
    room: str
    sockets: list[tuple[str, str]]  # (WebSocket URL, credential), one per socket
    expected: int  # messages each socket should receive


@dataclass
class ReceiverReport:
    latencies_ns: list[int] = field(default_factory=list)
    last_arrival_ns: int = 0
    # Parley numbers its messages: a seq that is not the one after the previous is a gap
    # or a duplicate.
    seq_errors: int = 0
    closed_early: int = 0  # sockets the server closed before they had every message

    @property
    def received(self) -> int:
        return len(self.latencies_ns)


class _Receiver:
    def __init__(self, socket: ClientConnection, dialect: Dialect, expected: int) -> None:
        self.socket = socket
        self.dialect = dialect
        self.expected = expected
        self.latencies_ns: list[int] = []
        self.last_arrival_ns = 0
        self.last_seq: int | None = None
        self.seq_errors = 0
        self.closed_early = False

    @property
    def complete(self) -> bool:
        return len(self.latencies_ns) >= self.expected

    async def run(self) -> None:
        try:
            async for frame in self.socket:
                arrived = now_ns()
                delivery = self.dialect.delivery(frame)
                if delivery is None:
                    answer = self.dialect.answer(frame)
                    if answer is not None:
                        await self.socket.send(answer)
                    continue
                self.latencies_ns.append(arrived - sent_at(delivery.body))
                self.last_arrival_ns = arrived
                if delivery.seq is not None:
                    if self.last_seq is not None and delivery.seq != self.last_seq + 1:
                        self.seq_errors += 1
                    self.last_seq = delivery.seq
        except ConnectionClosed:
            pass
        self.closed_early = not self.complete


async def _opened(plan: ReceiverPlan) -> list[_Receiver]:
    dialect = DIALECTS[plan.dialect]
    gate = asyncio.Semaphore(OPENING_AT_ONCE)

    async def one(url: str, credential: str) -> _Receiver:
        async with gate:
            socket = await open_socket(url, dialect, credential, offer_compression=False)
            await dialect.subscribe(socket, plan.room)
            return _Receiver(socket, dialect, plan.expected)

    return list(await asyncio.gather(*(one(url, credential) for url, credential in plan.sockets)))


async def _until_complete_or_quiet(receivers: list[_Receiver], started_ns: int) -> None:
    quiet_ns = int(QUIET_SECONDS * 1e9)
    while not all(receiver.complete for receiver in receivers):
        last = max(started_ns, *(receiver.last_arrival_ns for receiver in receivers))
        if now_ns() - last > quiet_ns:
            return
        await asyncio.sleep(0.05)


def _report(receivers: list[_Receiver]) -> ReceiverReport:
    report = ReceiverReport()
    for receiver in receivers:
        report.latencies_ns.extend(receiver.latencies_ns)
        report.last_arrival_ns = max(report.last_arrival_ns, receiver.last_arrival_ns)
        report.seq_errors += receiver.seq_errors
        report.closed_early += int(receiver.closed_early)
    return report


# --- the child ------------------------------------------------------------------------


async def _command() -> str:
    line: str = await asyncio.to_thread(sys.stdin.readline)
    return line.strip()


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def _child() -> None:
    raw_plan = orjson.loads(await _command())
    plan = ReceiverPlan(**{**raw_plan, "sockets": [tuple(pair) for pair in raw_plan["sockets"]]})
    receivers = await _opened(plan)
    reading = [asyncio.create_task(receiver.run()) for receiver in receivers]
    _say("ready")
    if await _command() != "sent":
        return
    await _until_complete_or_quiet(receivers, started_ns=now_ns())
    _say(orjson.dumps(asdict(_report(receivers))).decode())
    await _command()  # "close"
    for receiver in receivers:
        await receiver.socket.close()
    await asyncio.gather(*reading)


# --- the parent's handle on a child ------------------------------------------------------


class ReceiverProcess:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process

    @property
    def pid(self) -> int:
        return self._process.pid

    @classmethod
    @contextlib.asynccontextmanager
    async def started(cls, plan: ReceiverPlan, log: Path) -> AsyncIterator[ReceiverProcess]:
        with log.open("ab") as errors:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.fanout_receivers",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=errors,
                limit=_REPORT_LINE_LIMIT,
            )
        receiver = cls(process)
        try:
            await receiver._tell(orjson.dumps(asdict(plan)).decode())
            yield receiver
        finally:
            if process.returncode is None:
                process.kill()
            await process.wait()

    async def _tell(self, line: str) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write(line.encode() + b"\n")
        await self._process.stdin.drain()

    async def _hear(self) -> str:
        assert self._process.stdout is not None
        line = await self._process.stdout.readline()
        if not line:
            code = await self._process.wait()
            msg = f"a receiver process exited with {code} (see its log)"
            raise RuntimeError(msg)
        return line.decode().strip()

    async def ready(self) -> None:
        answer = await self._hear()
        assert answer == "ready", answer

    async def report(self) -> ReceiverReport:
        await self._tell("sent")
        return ReceiverReport(**orjson.loads(await self._hear()))

    async def close(self) -> None:
        await self._tell("close")
        await asyncio.wait_for(self._process.wait(), 30)


if __name__ == "__main__":
    asyncio.run(_child())
