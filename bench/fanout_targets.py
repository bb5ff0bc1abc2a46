"""What the fan-out clients connect to, started for real: Parley, the floor and
python-socketio, each as ``instances`` server processes sharing Redis, with one room,
credentials for the receivers and one for the sender."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path

from bench.fanout_dialects import DIALECTS
from bench.support.parley import REDIS_URL, accounts, join, new_room, parley_cluster
from bench.support.spawn import python_process, wait_for_port
from tests.support.ports import free_port

__all__ = ["FLOOR", "PARLEY", "SOCKETIO", "STARTERS", "Target", "TargetStarter"]

# Receivers sign in as one user per this many sockets: each user costs a slow password hash
# to make, and sockets are what is measured.
SOCKETS_PER_USER = 10
# The room of the peers, which have no rooms to create.
PEER_ROOM = "bench"


@dataclass(frozen=True)
class Target:
    dialect: str  # a key of DIALECTS
    bases: list[str]  # ws://host:port of each instance
    room: str
    credentials: list[str]  # the receivers' (cycled over their sockets)
    sender_credential: str
    pids: list[int]  # the server processes, whose CPU and memory are measured

    def receiver_endpoints(self, sockets: int) -> list[tuple[str, str]]:
        """(URL, credential) of each receiver, spread evenly over the instances."""
        dialect = DIALECTS[self.dialect]
        return [
            (
                dialect.url(self.bases[index % len(self.bases)]),
                self.credentials[index % len(self.credentials)],
            )
            for index in range(sockets)
        ]

    @property
    def sender_url(self) -> str:
        """The sender is on the first instance."""
        return DIALECTS[self.dialect].url(self.bases[0])


# Starts a target: (scratch directory, instances, receiver sockets) -> the running target.
TargetStarter = Callable[[Path, int, int], AbstractAsyncContextManager[Target]]


def _users_for(sockets: int) -> int:
    return -(-sockets // SOCKETS_PER_USER)


def _ws_base(http_url: str) -> str:
    return http_url.replace("http://", "ws://", 1)


@contextlib.asynccontextmanager
async def parley(workdir: Path, instances: int, sockets: int) -> AsyncIterator[Target]:
    """``parley serve`` processes on a fresh database; the sender owns the room."""
    async with parley_cluster(workdir, instances) as cluster:
        base = cluster.url(0)
        owner, *members = await accounts(base, 1 + _users_for(sockets))
        room = await new_room(base, owner, "fan-out")
        await join(base, room, members)
        pids = []
        for instance in cluster.instances:
            assert instance.process is not None
            pids.append(instance.process.pid)
        yield Target(
            dialect="json",
            bases=[_ws_base(instance.url) for instance in cluster.instances],
            room=str(room["id"]),
            credentials=[member.access_token for member in members],
            sender_credential=owner.access_token,
            pids=pids,
        )


@contextlib.asynccontextmanager
async def _peer(
    workdir: Path, instances: int, sockets: int, dialect: str, module: str, options: Sequence[str]
) -> AsyncIterator[Target]:
    """``instances`` processes of ``python -m <module> --port P <options>``."""
    async with contextlib.AsyncExitStack() as stack:
        bases, pids = [], []
        for index in range(instances):
            port, log = free_port(), workdir / f"{module.rsplit('.', 1)[-1]}-{index}.log"
            process = await stack.enter_async_context(
                python_process(["-m", module, "--port", str(port), *options], log)
            )
            await wait_for_port(port, process, log)
            bases.append(f"ws://127.0.0.1:{port}")
            pids.append(process.pid)
        # Peers take any credential: signing in is only there to match Parley's steps.
        yield Target(
            dialect=dialect,
            bases=bases,
            room=PEER_ROOM,
            credentials=[f"receiver-{index}" for index in range(_users_for(sockets))],
            sender_credential="sender",
            pids=pids,
        )


def floor(workdir: Path, instances: int, sockets: int) -> AbstractAsyncContextManager[Target]:
    prefix = f"bench-floor-{uuid.uuid4().hex[:10]}"  # channels only: no key to clean up
    options = ["--redis", REDIS_URL, "--prefix", prefix]
    module = "bench.peers.floor_fanout_server"
    return _peer(workdir, instances, sockets, "json", module, options)


def socketio(workdir: Path, instances: int, sockets: int) -> AbstractAsyncContextManager[Target]:
    channel = f"bench-sio-{uuid.uuid4().hex[:10]}"
    options = ["--redis", REDIS_URL, "--channel", channel]
    module = "bench.peers.socketio_fanout_server"
    return _peer(workdir, instances, sockets, "socketio", module, options)


PARLEY, FLOOR, SOCKETIO = "Parley", "floor (websockets + Redis)", "python-socketio"
STARTERS: dict[str, TargetStarter] = {PARLEY: parley, FLOOR: floor, SOCKETIO: socketio}
