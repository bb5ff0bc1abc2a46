"""Parley's side of persisted sends: the plan's senders as WebSocket clients of a cluster,
each sending one message and waiting for its ``ack`` before sending the next."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from bench.sends_plan import BODY, SendPlan, Sent, measure, warm_up
from bench.support.meters import CpuMeter
from bench.support.parley import Account, join, new_room
from tests.support.factories import Json
from tests.support.processes import Cluster
from tests.support.ws import WsClient

__all__ = ["ParleySent", "parley_sends"]

# Rooms made and joined at a time while setting up.
SETUP_PARALLEL = 8


@dataclass(frozen=True, slots=True)
class ParleySent:
    """What Parley acknowledged, and the CPU its instances spent over those sends."""

    sent: Sent
    cpu_seconds: float

    @property
    def cpu_micros_per_message(self) -> float:
        return self.cpu_seconds / self.sent.acknowledged * 1e6


async def parley_sends(cluster: Cluster, members: list[Account], plan: SendPlan) -> ParleySent:
    """Run ``plan`` against ``cluster``, its senders spread evenly over the instances."""
    rooms = await _rooms(cluster.url(0), members, plan.rooms)
    async with _sockets(cluster, members, plan) as sockets:

        async def send_one(sender: int, n: int) -> None:
            client_id = plan.client_id(sender, n)
            room_id = rooms[plan.room_index(sender, n)]
            socket = sockets[sender]
            await socket.send(
                {"type": "send", "room_id": room_id, "body": BODY, "client_id": client_id}
            )
            answer = await socket.recv_type("ack", "error")
            if answer["type"] != "ack" or answer["client_id"] != client_id:
                msg = f"sender {sender} expected the ack of {client_id}, got {answer}"
                raise RuntimeError(msg)

        await warm_up(plan, send_one)
        meter = CpuMeter([_pid(cluster, index) for index in range(len(cluster.instances))])
        meter.start()
        sent = await measure(plan, send_one)
        return ParleySent(sent, meter.stop())


async def _rooms(base_url: str, members: list[Account], count: int) -> list[str]:
    """``count`` public rooms of the first member that all the others have joined."""
    gate = asyncio.Semaphore(SETUP_PARALLEL)

    async def one(index: int) -> Json:
        async with gate:
            room = await new_room(base_url, members[0], f"sends-{index}")
            await join(base_url, room, members[1:])
            return room

    rooms = await asyncio.gather(*(one(index) for index in range(count)))
    return [str(room["id"]) for room in rooms]


@contextlib.asynccontextmanager
async def _sockets(
    cluster: Cluster, members: list[Account], plan: SendPlan
) -> AsyncIterator[list[WsClient]]:
    instances = len(cluster.instances)

    async def one(sender: int) -> WsClient:
        account = members[plan.account_index(sender)]
        return await WsClient.authenticated(cluster.url(sender % instances), account.access_token)

    sockets = list(await asyncio.gather(*(one(sender) for sender in range(plan.senders))))
    try:
        yield sockets
    finally:
        await asyncio.gather(*(socket.close() for socket in sockets))


def _pid(cluster: Cluster, index: int) -> int:
    process = cluster.instances[index].process
    assert process is not None, "the cluster is started"
    return process.pid
