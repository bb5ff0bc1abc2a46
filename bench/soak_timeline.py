"""What the soak watches over time: the resident memory of each instance beside the sockets
still open, the messages acknowledged and the deliveries received."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.soak_socket import SoakSocket
from bench.soak_traffic import Traffic
from bench.support.meters import resident_bytes

__all__ = ["Sample", "Timeline"]


@dataclass(frozen=True)
class Sample:
    elapsed: float  # seconds since the traffic started
    resident: tuple[int, ...]  # bytes, one per instance
    sockets_open: int
    acked: int
    deliveries: int


@dataclass
class Timeline:
    pids: Sequence[int]  # one ``parley serve`` process per instance
    sockets: Sequence[SoakSocket]
    traffic: Traffic
    samples: list[Sample] = field(default_factory=list, init=False)
    _started: float = field(default=0.0, init=False)

    def start(self) -> None:
        self._started = asyncio.get_running_loop().time()

    def sample(self) -> None:
        self.samples.append(
            Sample(
                elapsed=asyncio.get_running_loop().time() - self._started,
                resident=tuple(resident_bytes([pid]) for pid in self.pids),
                sockets_open=sum(socket.is_open for socket in self.sockets),
                acked=self.traffic.acked,
                deliveries=sum(socket.delivery.received for socket in self.sockets),
            )
        )

    async def record(self, every: float, until: float) -> None:
        """A sample every ``every`` seconds from the start, while fewer than ``until`` passed."""
        loop = asyncio.get_running_loop()
        tick = 0
        while tick * every < until:
            await asyncio.sleep(max(0.0, self._started + tick * every - loop.time()))
            self.sample()
            tick += 1

    def settled(self, warmup: float) -> Sample:
        """The first sample past the warm-up: memory growth is measured from it to the last."""
        return next(sample for sample in self.samples if sample.elapsed >= warmup)
