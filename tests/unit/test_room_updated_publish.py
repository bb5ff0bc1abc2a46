"""``room.updated`` of a big room: one publish per member's user channel, the frame the same
for all, and the event loop free for other sockets between every few hundred publishes."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from parley.observability.metrics import Metrics
from parley.realtime.broker import Delivery
from parley.realtime.channels import ChannelPublisher
from parley.realtime.envelope import decode_envelope
from parley.realtime.memory_broker import MemoryBroker, MemoryBus
from parley.realtime.publisher import EventPublisher
from parley.schemas.rooms import RoomOut

MEMBERS = 2_000


def _room() -> RoomOut:
    return RoomOut(
        id=uuid.uuid4(),
        name="everyone",
        kind="group",
        is_private=False,
        owner_id=uuid.uuid4(),
        created_at=datetime.now(UTC),
        last_seq=7,
    )


async def test_each_member_gets_the_frame_once_and_other_work_goes_on_meanwhile() -> None:
    bus = MemoryBus()
    events = EventPublisher(ChannelPublisher(MemoryBroker(bus), namespace="t"), Metrics())
    listener = MemoryBroker(bus)
    members = [uuid.uuid4() for _ in range(MEMBERS)]
    for member in members:
        await listener.subscribe(f"t:user:{member}")

    turns = 0
    started = asyncio.Event()

    async def other_work() -> None:
        """Another socket's work: it counts each turn the event loop gives it."""
        nonlocal turns
        started.set()
        while True:
            await asyncio.sleep(0)
            turns += 1

    room = _room()
    other = asyncio.create_task(other_work())
    await started.wait()  # it waits for its turn now
    before = turns
    await events.room_updated(members, room)
    during = turns - before
    other.cancel()

    assert during >= MEMBERS // 500  # a turn every 500 publishes, not one at the end
    heard: list[Delivery] = []
    stream = listener.events()
    for _ in range(MEMBERS):
        event = await anext(stream)
        assert isinstance(event, Delivery)
        heard.append(event)
    assert sorted(event.channel for event in heard) == sorted(f"t:user:{m}" for m in members)
    frames = {decode_envelope(event.data).frame for event in heard}
    assert frames == {f'{{"type":"room.updated","room":{room.model_dump_json()}}}'}
