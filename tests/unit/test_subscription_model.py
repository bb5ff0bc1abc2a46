"""The delivery guarantee, model-checked: random interleavings of everything that can happen
to the real-time core, and the contract's promises checked after every step.

Two instances, each a real ``Hub`` with real ``Connection``s, share a database (a list of
committed messages per room, and who is a member) and a broker whose deliveries the test
holds, drops, repeats and reorders, and which can lose its connection. Reads of the database
can be held and let go in any order; sockets can stop reading (slow) and drop; a client
whose socket closed reconnects to either instance and resumes with ``since_seq``; gap timers
fire when the test says (the hub's clock is the test's). Nothing waits on the wall clock: the
event loop is turned by hand.

After every step, for each socket and each of its subscriptions (an *epoch*: from its
``subscribe`` to its ``unsubscribed``), the frames it was written say:

- **in order, gapless, no duplicate**: messages come one seq after the other, from
  ``since_seq`` + 1 (a replay, then ``subscribed`` with the last seq written) or, without
  ``since_seq``, from the seq ``subscribed`` names;
- **nothing after a departure**: the user's "left" message that ends the membership the
  subscription found is followed by ``unsubscribed`` (reason "left") and nothing else of
  the room; a subscription whose user was no member when it read refuses at once;
- **nothing of a room one is not a member of**: the membership read happened after the
  ``subscribe`` and found the user a member, live messages come while they are one, and
  nothing comes of a room with no subscription;
- **no socket closed but for being slow** (a gap reaching a socket would close it).

And once everything is let go (reads, the broker, slow sockets, timers, a reconciliation),
every live subscription has every message of its room, up to its user's departure.
``docs/architecture.md`` describes the state machine these hold to.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from parley.realtime.broker import BrokerEvent, Delivery, Reconnected
from parley.realtime.channels import room_channel_prefix
from parley.realtime.connection import Connection
from parley.realtime.envelope import Outbound, encode_envelope
from parley.realtime.frames import UnsubscribedFrame
from parley.realtime.history import PAGE_SIZE, History
from parley.realtime.hub import Hub
from parley.realtime.subscription import Subscription, SubscriptionState
from tests.support.sockets import frame_payload

ROOMS = [uuid.UUID(int=0x100 + number) for number in range(2)]
USERS = [uuid.UUID(int=0x200 + number) for number in range(3)]
FIRST_MEMBERS = USERS[:2]  # the third joins first, if ever
INSTANCES = 2
MAX_SOCKETS = 4  # open at once
MAX_QUEUE = 4  # a socket's outbox: small, so that slow sockets overflow
SETTLE_TURNS = 40  # turns of the event loop after each step
TOO_SLOW = "too slow: reconnect and resume with since_seq"

# PARLEY_MODEL_EXAMPLES explores further, from a random seed (printed when it fails);
# without it, every run checks the same examples.
EXPLORE = os.environ.get("PARLEY_MODEL_EXAMPLES")
MODEL_SETTINGS = settings(
    max_examples=int(EXPLORE or "300"),
    stateful_step_count=60,
    derandomize=EXPLORE is None,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


# --- the database ------------------------------------------------------------------------


def _frame(room: uuid.UUID, seq: int, kind: str, user: uuid.UUID) -> str:
    message = {"seq": seq, "kind": kind, "user": str(user)}
    return json.dumps({"type": "message", "room_id": str(room), "message": message})


class Database(History):
    """The record: each room's committed messages, and its members. Reads may be held (as a
    statement on its way) and are answered with what is committed when they are let go."""

    def __init__(self) -> None:  # nothing is read from SQL
        self.messages: dict[uuid.UUID, list[Outbound]] = {room: [] for room in ROOMS}
        self.members: dict[uuid.UUID, set[uuid.UUID]] = {room: set(FIRST_MEMBERS) for room in ROOMS}
        # Each user's membership by seq: (the seq that changed it, a member after it).
        self.changes: dict[tuple[uuid.UUID, uuid.UUID], list[tuple[int, bool]]] = {}
        self.holding = False
        self.held: list[asyncio.Future[None]] = []
        # What happens just before a given statement (counted from the first) reads.
        self.statements = 0
        self.before: list[tuple[int, Callable[[], None]]] = []

    # committing

    def last(self, room: uuid.UUID) -> int:
        return len(self.messages[room])

    def commit(self, room: uuid.UUID, user: uuid.UUID, kind: str) -> Outbound:
        seq = self.last(room) + 1
        event = Outbound(
            frame=_frame(room, seq, kind, user),
            seq=seq,
            departing_user=user if kind == "left" else None,
        )
        self.messages[room].append(event)
        if kind in ("joined", "left"):
            member = kind == "joined"
            (self.members[room].add if member else self.members[room].discard)(user)
            self.changes.setdefault((room, user), []).append((seq, member))
        return event

    # what the checks ask

    def member_after(self, room: uuid.UUID, user: uuid.UUID, seq: int) -> bool:
        member = user in FIRST_MEMBERS
        for changed_at, now in self.changes.get((room, user), []):
            if changed_at <= seq:
                member = now
        return member

    def out_since(self, room: uuid.UUID, user: uuid.UUID, seq: int) -> bool:
        """Whether ``user`` was no member of the room at some point since message ``seq``."""
        return any(not self.member_after(room, user, at) for at in range(seq, self.last(room) + 1))

    def departure_after(self, room: uuid.UUID, user: uuid.UUID, seq: int) -> int | None:
        """The first "left" message of ``user`` after ``seq``."""
        for changed_at, member in self.changes.get((room, user), []):
            if changed_at > seq and not member:
                return changed_at
        return None

    # History, as the hub and the sockets read it

    def in_statements(self, count: int, action: Callable[[], None]) -> None:
        """Do ``action`` just before the ``count``-th statement from now reads."""
        self.before.append((self.statements + count, action))

    def do_all_before(self) -> None:
        before, self.before = self.before, []
        for _, action in before:
            action()

    async def _statement(self) -> None:
        """A statement takes a turn of the event loop at least, or until let go if held;
        what was to happen before it (a commit racing it) happens first."""
        self.statements += 1
        due = [action for at, action in self.before if at <= self.statements]
        self.before = [(at, action) for at, action in self.before if at > self.statements]
        for action in due:
            action()
        if self.holding:
            held = asyncio.get_running_loop().create_future()
            self.held.append(held)
            await held
        else:
            await asyncio.sleep(0)

    def let_go(self, pick: int | None = None) -> None:
        self.held = [held for held in self.held if not held.done()]  # their readers gone
        if not self.held:
            return
        chosen = self.held if pick is None else self.held[pick % len(self.held) :][:1]
        for held in list(chosen):
            held.set_result(None)
            self.held.remove(held)

    async def after(
        self, room_id: uuid.UUID, after_seq: int, limit: int = PAGE_SIZE
    ) -> list[Outbound]:
        await self._statement()
        return self.messages[room_id][after_seq : after_seq + limit]

    async def last_seq(self, room_id: uuid.UUID) -> int:
        await self._statement()
        return self.last(room_id)

    async def last_seq_if_member(self, room_id: uuid.UUID, user_id: uuid.UUID) -> int | None:
        await self._statement()
        return self.last(room_id) if user_id in self.members[room_id] else None

    async def last_seqs(self, room_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
        await self._statement()
        return {room: self.last(room) for room in room_ids}


# --- the broker --------------------------------------------------------------------------


class Bus:
    def __init__(self) -> None:
        self.brokers: list[Broker] = []

    def publish(self, channel: str, data: bytes) -> None:
        for broker in self.brokers:
            if broker.up and channel in broker.channels:
                broker.in_flight.append(Delivery(channel, data))


class Broker:
    """A broker whose deliveries wait in flight until the test hands them over, in any order,
    or drops them; an outage loses what is in flight, and ends with ``Reconnected``."""

    reconnects = 0

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        bus.brokers.append(self)
        self.channels: set[str] = set()
        self.in_flight: list[Delivery] = []
        self.inbox: asyncio.Queue[BrokerEvent] = asyncio.Queue()
        self.up = True

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def ping(self) -> None:
        pass

    async def publish(self, channel: str, data: bytes) -> None:
        self._bus.publish(channel, data)

    async def subscribe(self, channel: str) -> None:
        self.channels.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        self.channels.discard(channel)

    async def events(self) -> AsyncIterator[BrokerEvent]:
        while True:
            yield await self.inbox.get()

    def hand_over(self, pick: int) -> None:
        if self.in_flight:
            self.inbox.put_nowait(self.in_flight.pop(pick % len(self.in_flight)))

    def hand_over_all(self) -> None:
        while self.in_flight:
            self.hand_over(0)

    def drop(self, pick: int) -> None:
        if self.in_flight:
            self.in_flight.pop(pick % len(self.in_flight))

    def repeat(self, pick: int) -> None:
        if self.in_flight:
            self.in_flight.append(self.in_flight[pick % len(self.in_flight)])

    def lose_connection(self) -> None:
        self.up = False
        self.in_flight.clear()

    def reconnect(self) -> None:
        if not self.up:
            self.up = True
            self.inbox.put_nowait(Reconnected())


@dataclass
class Timer:
    callback: Callable[[], None]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


@dataclass
class Clock:
    """The hubs' gap timers, which fire when the test says."""

    timers: list[Timer] = field(default_factory=list)

    def call_later(self, _delay: float, callback: Callable[[], None]) -> Timer:
        timer = Timer(callback)
        self.timers.append(timer)
        return timer

    def fire(self) -> None:
        due, self.timers = self.timers, []
        for timer in due:
            if not timer.cancelled:
                timer.callback()


# --- a client, and what it checks of each frame ------------------------------------------


@dataclass
class Epoch:
    """One subscription, as its client sees it: from its ``subscribe`` to its end."""

    since: int | None
    asked_at: int  # where the room stood when the subscribe frame was handled
    subscription: Subscription | None = None  # the hub's, once ``join_room`` has made it
    closing: bool = False  # the client unsubscribed: the "requested" answer ends it
    subscribed_at: int | None = None  # the ``last_seq`` of its ``subscribed``
    last: int | None = None  # the last message it wrote
    reached_departure: bool = False  # it wrote its user's "left" message
    left: bool = False  # ``unsubscribed`` with reason "left"


class ClientConnection(Connection):
    """The server's connection, telling the client of each subscription as it is made (the
    client checks each frame against the subscription that wrote it)."""

    client: Client

    def subscribe(
        self,
        room_id: uuid.UUID,
        since_seq: int | None,
        on_left: Callable[[Subscription], None] = lambda _subscription: None,
    ) -> Subscription:
        subscription = super().subscribe(room_id, since_seq, on_left)
        self.client.made(room_id, subscription)
        return subscription


class Client:
    """A socket's client: its frames as they are written, checked one by one."""

    def __init__(
        self, name: str, user: uuid.UUID, instance: int, direct: bool, database: Database
    ) -> None:
        self.name = name
        self.user = user
        self.instance = instance
        self.direct = direct
        self._database = database
        self.reading = asyncio.Event()
        self.reading.set()
        self.epochs: dict[uuid.UUID, deque[Epoch]] = {room: deque() for room in ROOMS}
        self.answers_due = dict.fromkeys(ROOMS, 0)  # "requested" answers to come
        self.seen: dict[uuid.UUID, int] = {}  # the last seq seen of each room: to resume
        self.violations: list[str] = []
        self.connection: Connection | None = None
        self.joining: asyncio.Task[None] | None = None
        self.gone = False  # closed, and let go of by its hub
        self.reconnected = False

    # the socket, as the server writes to it

    async def send(self, message: dict[str, Any]) -> None:
        await self.reading.wait()
        self._receive(json.loads(message["text"]))

    def write_now(self, frame: bytes) -> bool:
        if not self.reading.is_set():
            return False
        self._receive(json.loads(frame_payload(frame)))
        return True

    # what the client asks

    def asked_to_subscribe(self, room: uuid.UUID, since: int | None) -> Epoch:
        epoch = Epoch(since=since, asked_at=self._database.last(room))
        self.epochs[room].append(epoch)
        return epoch

    def asked_to_unsubscribe(self, room: uuid.UUID) -> None:
        self.answers_due[room] += 1
        for epoch in self.epochs[room]:
            epoch.closing = True

    def made(self, room: uuid.UUID, subscription: Subscription) -> None:
        waiting = [epoch for epoch in self.epochs[room] if epoch.subscription is None]
        if len(waiting) != 1:
            self._fail(room, f"a subscription made for {len(waiting)} subscribes")
        else:
            waiting[0].subscription = subscription

    def may_subscribe(self, room: uuid.UUID) -> bool:
        """Its earlier subscriptions to the room end in a frame it will see: it unsubscribed,
        or the server ended them as its user left (``subscribe`` again gives no boundary
        before that, and a client would not know which frames are whose)."""
        return all(
            epoch.closing
            or (
                epoch.subscription is not None
                and epoch.subscription.state is SubscriptionState.ENDED
            )
            for epoch in self.epochs[room]
        )

    # the checks

    def _fail(self, room: uuid.UUID, what: str) -> None:
        self.violations.append(f"{self.name}, room {room.int & 0xFF}: {what}")

    def _receive(self, frame: dict[str, Any]) -> None:
        room_id = frame.get("room_id")
        if room_id is None:
            return  # a reply
        room = uuid.UUID(room_id)
        kind = frame["type"]
        if kind == "unsubscribed":
            self._unsubscribed(room, frame["reason"])
            return
        epochs = self.epochs[room]
        if not epochs:
            self._fail(room, f"a {kind} frame with no subscription")
            return
        epoch = epochs[0]
        if epoch.left or epoch.reached_departure:
            self._fail(room, f"a {kind} frame after the departure")
            return
        if kind == "subscribed":
            self._subscribed(room, epoch, frame["last_seq"])
        elif kind == "message":
            self._message(room, epoch, frame["message"]["seq"])
        elif epoch.subscribed_at is None:
            self._fail(room, f"a {kind} frame before subscribed")
        elif frame.get("user") == str(self.user):
            self._fail(room, "its own typing")

    def _member_at(self, room: uuid.UUID, epoch: Epoch) -> int | None:
        """Where the catch-up found the user a member (checked against the record)."""
        if epoch.subscription is None:
            self._fail(room, "frames before the subscription was made")
            return None
        member_at = epoch.subscription.member_at
        if member_at is not None:
            if member_at < epoch.asked_at:
                self._fail(room, f"membership read at {member_at}, before the subscribe")
            if not self._database.member_after(room, self.user, member_at):
                self._fail(room, f"found a member at {member_at}, where they were none")
        return member_at

    def _subscribed(self, room: uuid.UUID, epoch: Epoch, last_seq: int) -> None:
        member_at = self._member_at(room, epoch)
        if epoch.subscribed_at is not None or member_at is None:
            self._fail(room, "subscribed twice, or without a member")
            return
        if epoch.since is None:
            expected = member_at
        else:
            expected = epoch.since if epoch.last is None else epoch.last
            if last_seq < member_at:
                self._fail(room, f"subscribed at {last_seq}, behind the read at {member_at}")
        if last_seq != expected:
            self._fail(room, f"subscribed at {last_seq}, not {expected}")
        epoch.subscribed_at = last_seq
        self.seen[room] = max(self.seen.get(room, 0), last_seq)

    def _message(self, room: uuid.UUID, epoch: Epoch, seq: int) -> None:
        member_at = self._member_at(room, epoch)
        if member_at is None:
            self._fail(room, f"message {seq} without a membership read")
            return
        if epoch.since is None and epoch.subscribed_at is None:
            self._fail(room, f"message {seq} replayed to a subscription without since_seq")
        start = member_at if epoch.since is None else epoch.since
        expected = start + 1 if epoch.last is None else epoch.last + 1
        if seq != expected:
            self._fail(room, f"message {seq} where {expected} was due (gap, repeat or disorder)")
        departure = self._database.departure_after(room, self.user, member_at)
        if departure is not None and seq > departure:
            self._fail(room, f"message {seq} after their departure at {departure}")
        if epoch.subscribed_at is not None and not self._database.member_after(
            room, self.user, seq - 1
        ):
            self._fail(room, f"live message {seq} while no member")
        epoch.last = seq
        epoch.reached_departure = seq == departure
        self.seen[room] = max(self.seen.get(room, 0), seq)

    def _unsubscribed(self, room: uuid.UUID, reason: str) -> None:
        epochs = self.epochs[room]
        if reason == "requested":
            if self.answers_due[room] == 0:
                self._fail(room, "unsubscribed, never asked")
            self.answers_due[room] -= 1
            if epochs and epochs[0].closing:
                epochs.popleft()
            return
        if not epochs or epochs[0].left:
            self._fail(room, "left, with no subscription")
            return
        epoch = epochs[0]
        member_at = self._member_at(room, epoch)
        if member_at is None:
            if epoch.last is not None or epoch.subscribed_at is not None:
                self._fail(room, "refused after writing some of the room")
            if not self._database.out_since(room, self.user, epoch.asked_at):
                self._fail(room, "refused, while a member all along")
        else:
            departure = self._database.departure_after(room, self.user, member_at)
            if departure is None:
                self._fail(room, "left, but no departure after the membership read")
            elif epoch.last != departure and not self._claimed(epoch, departure):
                self._fail(room, f"left after message {epoch.last}, not at {departure}")
        epoch.left = True
        if not epoch.closing:
            epochs.popleft()

    @staticmethod
    def _claimed(epoch: Epoch, departure: int) -> bool:
        """The client resumed from past the departure (a ``since_seq`` beyond the room): it
        ends without the "left" message, and with no message at all."""
        return epoch.last is None and epoch.since is not None and epoch.since >= departure

    def check_all_arrived(self) -> None:
        """Once everything has been let go: each live subscription has its room up to its
        user's departure, and every subscription ended as it should have."""
        for room, epochs in self.epochs.items():
            if self.answers_due[room]:
                self._fail(room, "an unsubscribe never answered")
            for epoch in epochs:
                subscription = epoch.subscription
                if subscription is None or subscription.state is not SubscriptionState.LIVE:
                    state = "not made" if subscription is None else subscription.state.value
                    self._fail(room, f"a subscription {state} at the end")
                    continue
                member_at = subscription.member_at
                assert member_at is not None
                departure = self._database.departure_after(room, self.user, member_at)
                last = epoch.subscribed_at if epoch.last is None else epoch.last
                if departure is not None:
                    self._fail(room, f"live past its departure at {departure}")
                elif last is None or last < self._database.last(room):
                    self._fail(room, f"has up to {last} of {self._database.last(room)}")


# --- the machine -------------------------------------------------------------------------


class DeliveryModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.database = Database()
        self.clock = Clock()
        self.clients: list[Client] = []
        self.tasks: list[asyncio.Task[Any]] = []
        self.loop.run_until_complete(self._start())

    async def _start(self) -> None:
        bus = Bus()
        self.brokers = [Broker(bus) for _ in range(INSTANCES)]
        self.hubs = [
            Hub(
                broker,
                self.database,
                namespace="m",
                reconcile_interval=1e9,  # the test reconciles, as a step
                call_later=self.clock.call_later,
            )
            for broker in self.brokers
        ]
        self.tasks += [asyncio.create_task(hub.run()) for hub in self.hubs]
        self.bus = bus

    def _run(self, work: Coroutine[Any, Any, None]) -> None:
        self.loop.run_until_complete(self._then_settle(work))

    def _settle_now(self) -> None:
        self.loop.run_until_complete(self._settle())

    async def _then_settle(self, work: Coroutine[Any, Any, None]) -> None:
        await work
        await self._settle()

    async def _settle(self, turns: int = SETTLE_TURNS) -> None:
        for _ in range(turns):
            await asyncio.sleep(0)
        for client in self.clients:
            connection = client.connection
            if connection is not None and connection.closed and not client.gone:
                await self._let_go(client)

    async def _let_go(self, client: Client) -> None:
        """The socket closed: its session ends, and its hub lets go of it."""
        assert client.connection is not None
        client.gone = True
        if client.joining is not None:
            client.joining.cancel()
        reason = client.connection.close_reason
        if client.connection.close_code is not None and reason != TOO_SLOW:
            client.violations.append(f"{client.name} closed: {reason}")
        await self.hubs[client.instance].unregister(client.connection)

    def _client(self, pick: int, *, idle: bool = True) -> Client | None:
        """One of the open sockets (not one waiting for its subscribe to be handled)."""
        open_ = [c for c in self.clients if not c.gone and not (idle and c.joining)]
        return open_[pick % len(open_)] if open_ else None

    # sockets

    @initialize(
        sockets=st.lists(
            st.tuples(
                st.sampled_from(USERS),
                st.integers(0, INSTANCES - 1),
                st.booleans(),
                st.sets(st.sampled_from(ROOMS)),
            ),
            min_size=2,
            max_size=MAX_SOCKETS - 1,
        ),
        holding=st.booleans(),
    )
    def sockets_subscribed(
        self, sockets: list[tuple[uuid.UUID, int, bool, set[uuid.UUID]]], holding: bool
    ) -> None:
        """A few sockets to begin with, subscribed to some of the rooms; with the database's
        reads held, they race to start the rooms."""
        self.database.holding = holding
        for user, instance, direct, rooms in sockets:
            self._run(self._open(user, instance, direct))
            client = self.clients[-1]
            for room in sorted(rooms):
                if client.joining is None:  # its frames are handled one at a time
                    self._subscribe(client, room, None)

    @rule(user=st.sampled_from(USERS), instance=st.integers(0, INSTANCES - 1), direct=st.booleans())
    def open_socket(self, user: uuid.UUID, instance: int, direct: bool) -> None:
        if sum(not client.gone for client in self.clients) < MAX_SOCKETS:
            self._run(self._open(user, instance, direct))

    async def _open(
        self, user: uuid.UUID, instance: int, direct: bool, seen: dict[uuid.UUID, int] | None = None
    ) -> None:
        client = Client(f"socket {len(self.clients)}", user, instance, direct, self.database)
        client.seen = dict(seen or {})
        client.connection = connection = ClientConnection(
            uuid.uuid4(),
            client.send,
            user,
            self.database,
            max_queue=MAX_QUEUE,
            write_now=client.write_now if direct else None,
        )
        connection.client = client
        self.clients.append(client)
        await self.hubs[instance].register(client.connection)

    def _closed(self) -> list[Client]:
        return [client for client in self.clients if client.gone and not client.reconnected]

    @precondition(lambda self: self._closed())
    @rule(pick=st.integers(0, 15), instance=st.integers(0, INSTANCES - 1))
    def reconnect(self, pick: int, instance: int) -> None:
        """A client whose socket closed connects again (to either instance), and remembers
        the last seq it saw of each room, to resume from."""
        gone = self._closed()
        if sum(not client.gone for client in self.clients) < MAX_SOCKETS:
            client = gone[pick % len(gone)]
            client.reconnected = True
            self._run(self._open(client.user, instance, client.direct, client.seen))

    @rule(pick=st.integers(0, 15))
    def drop_socket(self, pick: int) -> None:
        client = self._client(pick, idle=False)
        if client is not None and client.connection is not None:
            client.connection.close(None)
            self._run(self._let_go(client))

    @rule(pick=st.integers(0, 15), reading=st.booleans())
    def slow_socket(self, pick: int, reading: bool) -> None:
        client = self._client(pick, idle=False)
        if client is not None:
            (client.reading.set if reading else client.reading.clear)()
            self._settle_now()

    # what a client asks

    @rule(
        pick=st.integers(0, 15),
        room=st.sampled_from(ROOMS),
        since=st.sampled_from(["none", "seen", "zero", "beyond"]),
        race=st.lists(
            st.tuples(
                st.sampled_from(["its user", "another"]),
                st.sampled_from(["text", "text", "left", "joined"]),
                st.integers(1, 3),
            ),
            max_size=3,
        ),
    )
    def subscribe(
        self, pick: int, room: uuid.UUID, since: str, race: list[tuple[str, str, int]]
    ) -> None:
        """Subscribe, from where the client stands: member or not (the frame's own check may
        have passed just before a leave), resuming or not, even from a seq not yet reached;
        while the subscribe is handled, its user or another may send, leave or join, each
        just before one of the next statements reads (as the leaving races of
        ``tests/support/departures.py`` do for real)."""
        client = self._client(pick)
        if client is None or not client.may_subscribe(room):
            return
        since_seq = {
            "none": None,
            "seen": client.seen.get(room),
            "zero": 0,
            "beyond": self.database.last(room) + 2,
        }[since]
        for who, kind, statement in race:
            user = client.user if who == "its user" else self._another(client.user)
            commit = functools.partial(self._commit, user, room, kind, "at once")
            self.database.in_statements(statement, commit)
        self._subscribe(client, room, since_seq)

    @staticmethod
    def _another(user: uuid.UUID) -> uuid.UUID:
        return USERS[(USERS.index(user) + 1) % len(USERS)]

    def _subscribe(self, client: Client, room: uuid.UUID, since_seq: int | None) -> None:
        epoch = client.asked_to_subscribe(room, since_seq)
        hub, connection = self.hubs[client.instance], client.connection
        assert connection is not None

        async def join() -> None:
            subscription = await hub.join_room(connection, room, since_seq)
            if subscription is not epoch.subscription:
                client.violations.append(f"{client.name}: join_room made another subscription")
            client.joining = None

        client.joining = self.loop.create_task(join())
        self._settle_now()

    @rule(pick=st.integers(0, 15), room=st.sampled_from(ROOMS))
    def unsubscribe(self, pick: int, room: uuid.UUID) -> None:
        client = self._client(pick)
        if client is None or client.connection is None:
            return
        connection, hub = client.connection, self.hubs[client.instance]
        client.asked_to_unsubscribe(room)

        async def leave() -> None:  # as the socket's session does
            await hub.leave_room(connection, room)
            connection.send(UnsubscribedFrame(room_id=room).model_dump_json())

        self._run(leave())

    # what changes in the record, and what is published of it

    @rule(
        user=st.sampled_from(USERS),
        room=st.sampled_from(ROOMS),
        kind=st.sampled_from(["text", "text", "text", "joined", "left"]),
        delivery=st.sampled_from(["at once", "at once", "in flight", "unpublished"]),
        later=st.sampled_from([0, 0, 0, 1, 2, 3]),
    )
    def commit(
        self, user: uuid.UUID, room: uuid.UUID, kind: str, delivery: str, later: int
    ) -> None:
        """A member sends, a user joins, a member leaves (or is removed: the same "left"
        message). Its event reaches the instances at once, or waits in flight, or is never
        published (the sending process died between commit and publish). ``later``: just
        before that statement from now reads, in the middle of whatever the next steps set
        going."""
        if later:
            commit = functools.partial(self._commit, user, room, kind, delivery)
            self.database.in_statements(later, commit)
        else:
            self._commit(user, room, kind, delivery)
            self._settle_now()

    def _commit(self, user: uuid.UUID, room: uuid.UUID, kind: str, delivery: str) -> None:
        member = user in self.database.members[room]
        if kind == "text" and not member:
            kind = "joined"
        elif kind != "text" and member != (kind == "left"):
            kind = "text" if member else "joined"
        event = self.database.commit(room, user, kind)
        if delivery != "unpublished":
            self._publish(room, event, at_once=delivery == "at once")

    @rule(
        user=st.sampled_from(FIRST_MEMBERS),
        room=st.sampled_from(ROOMS),
        count=st.integers(2, 6),
        delivery=st.sampled_from(["at once", "in flight"]),
    )
    def burst(self, user: uuid.UUID, room: uuid.UUID, count: int, delivery: str) -> None:
        """Several messages in a row (a busy room, a slow socket's queue filling)."""
        if user in self.database.members[room]:
            for _ in range(count):
                event = self.database.commit(room, user, "text")
                self._publish(room, event, at_once=delivery == "at once")
            self._settle_now()

    def _publish(self, room: uuid.UUID, event: Outbound, *, at_once: bool) -> None:
        """As ``ChannelPublisher.to_room`` does, once committed."""
        self.bus.publish(f"{room_channel_prefix('m')}{room}", encode_envelope(event))
        if at_once:
            for broker in self.brokers:
                broker.hand_over_all()

    @rule(user=st.sampled_from(USERS), room=st.sampled_from(ROOMS))
    def typing(self, user: uuid.UUID, room: uuid.UUID) -> None:
        if user in self.database.members[room]:
            frame = json.dumps({"type": "typing", "room_id": str(room), "user": str(user)})
            self._publish(room, Outbound(frame, exclude_user=user), at_once=True)
            self._settle_now()

    # the broker

    @rule(instance=st.integers(0, INSTANCES - 1), pick=st.integers(0, 7))
    def broker_hands_over(self, instance: int, pick: int) -> None:
        """One event in flight reaches its instance: the oldest (``pick`` 0), or a later one
        overtaking it."""
        self.brokers[instance].hand_over(pick if pick < 4 else 0)
        self._settle_now()

    @rule(instance=st.integers(0, INSTANCES - 1))
    def broker_hands_over_all(self, instance: int) -> None:
        self.brokers[instance].hand_over_all()
        self._settle_now()

    @rule(instance=st.integers(0, INSTANCES - 1), pick=st.integers(0, 7))
    def broker_drops(self, instance: int, pick: int) -> None:
        self.brokers[instance].drop(pick)

    @rule(instance=st.integers(0, INSTANCES - 1), pick=st.integers(0, 7))
    def broker_repeats(self, instance: int, pick: int) -> None:
        self.brokers[instance].repeat(pick)

    @rule(instance=st.integers(0, INSTANCES - 1), back=st.booleans())
    def broker_connection(self, instance: int, back: bool) -> None:
        broker = self.brokers[instance]
        (broker.reconnect if back else broker.lose_connection)()
        self._settle_now()

    # the database, and time

    @rule(holding=st.booleans())
    def hold_reads(self, holding: bool) -> None:
        self.database.holding = holding

    @precondition(lambda self: self.database.held)
    @rule(pick=st.integers(0, 7))
    def a_read_returns(self, pick: int) -> None:
        self.database.let_go(pick)
        self._settle_now()

    @rule()
    def gap_timers_fire(self) -> None:
        self._run(self._fire_timers())

    async def _fire_timers(self) -> None:
        self.clock.fire()

    @rule(instance=st.integers(0, INSTANCES - 1))
    def housekeeping(self, instance: int) -> None:
        self.tasks.append(self.loop.create_task(self.hubs[instance].housekeep()))
        self._settle_now()

    @rule()
    def everything_arrives(self) -> None:
        """Let everything go, and every live subscription has its whole room."""
        self.loop.run_until_complete(self._quiesce())
        for client in self.clients:
            if client.gone:
                continue
            if client.joining is not None:
                client.violations.append(f"{client.name}: a subscribe never handled")
            client.check_all_arrived()

    async def _quiesce(self) -> None:
        self.database.do_all_before()
        self.database.holding = False
        for client in self.clients:
            client.reading.set()
        for broker in self.brokers:
            broker.reconnect()
        for _ in range(3):
            self.database.let_go()
            for broker in self.brokers:
                broker.hand_over_all()
            await self._settle()
            await self._fire_timers()
            await self._settle()
            for hub in self.hubs:
                await hub.housekeep()
            await self._settle(4 * SETTLE_TURNS)

    @invariant()
    def frames_keep_the_contract(self) -> None:
        violations = [v for client in self.clients for v in client.violations]
        assert not violations, "\n".join(violations)

    def teardown(self) -> None:
        try:
            if not any(client.violations for client in self.clients):
                self.everything_arrives()
                self.frames_keep_the_contract()
        finally:
            self.loop.run_until_complete(self._stop())
            self.loop.close()

    async def _stop(self) -> None:
        for client in self.clients:
            if client.connection is not None:
                client.connection.close(None)
            if client.joining is not None:
                client.joining.cancel()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await self.loop.shutdown_asyncgens()


def test_delivery_keeps_the_contract_in_every_interleaving() -> None:
    run_state_machine_as_test(DeliveryModel, settings=MODEL_SETTINGS)
