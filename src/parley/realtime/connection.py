"""One WebSocket on this instance: its bounded outbox, its subscriptions, and the writer that
drains the outbox into the socket."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum, auto
from typing import Any, TypeAlias

from parley.db.outage import DATABASE_UNREACHABLE
from parley.realtime.direct_write import WriteNow, text_frame
from parley.realtime.envelope import Outbound
from parley.realtime.frames import SubscribedFrame, UnsubscribedFrame
from parley.realtime.history import PAGE_SIZE, History

__all__ = [
    "CLOSE_INTERNAL_ERROR",
    "CLOSE_TRY_AGAIN_LATER",
    "AsgiSend",
    "Connection",
    "RoomEvent",
]

log = logging.getLogger(__name__)

CLOSE_INTERNAL_ERROR = 1011
CLOSE_TRY_AGAIN_LATER = 1013

# The ASGI server's own ``send``. Frames go to it directly: a framework's wrapper would
# re-check the socket's state on every frame of every socket.
AsgiSend: TypeAlias = Callable[[dict[str, Any]], Awaitable[None]]


class RoomEvent:
    """An event of one room, made once by the hub and handed to every socket of the room."""

    __slots__ = ("_wire", "event", "room_id")

    def __init__(self, room_id: uuid.UUID, event: Outbound) -> None:
        self.room_id = room_id
        self.event = event
        self._wire: bytes | None = None

    @property
    def wire(self) -> bytes:
        """The event's WebSocket frame, encoded once for every socket written directly."""
        if self._wire is None:
            self._wire = text_frame(self.event.frame)
        return self._wire


class _Step(Enum):
    """What a socket does with a room event, given the last seq it wrote of the room."""

    SKIP = auto()  # not caught up yet (the catch-up's read will include it), or a duplicate
    WRITE = auto()
    FILL_FIRST = auto()  # messages are missing before it: read them from the database first


# The members under plain names: every delivery asks for one, and reading a member off its
# class costs more than the rest of the question.
_SKIP, _WRITE, _FILL_FIRST = _Step.SKIP, _Step.WRITE, _Step.FILL_FIRST


def _step(last_seq: int | None, seq: int | None) -> _Step:
    if seq is None:  # an event outside the room's order: edits, typing, presence
        return _SKIP if last_seq is None else _WRITE
    if last_seq is None or seq <= last_seq:
        return _SKIP
    return _WRITE if seq == last_seq + 1 else _FILL_FIRST


def _nothing() -> None:
    pass


class _Subscription:
    """One room on one socket: the last seq written (None until its catch-up is done),
    whether it still stands, and the last seq it may ever write (``until``: its user left
    the room). A subscription made again is a new object, so a write that was awaited
    meanwhile cannot touch the new one.

    Its catch-up reads the membership and where the room stands in one statement
    (``member_at``: the room's last seq then). A departure at or before that seq ended an
    earlier membership (the user has rejoined since); one after it ends this one. The hub
    hands the socket the room's events from before that read on, so no later departure can
    pass it by. Until the read, departures are noted (``departures``) and judged once it is
    done; ``on_left`` tells the hub when the subscription ends because its user left.
    """

    __slots__ = ("active", "departures", "last_seq", "member_at", "on_left", "until")

    def __init__(self, on_left: Callable[[], None]) -> None:
        self.last_seq: int | None = None
        self.member_at: int | None = None
        self.active = True
        self.until: int | None = None
        self.departures: list[int] = []
        self.on_left = on_left

    def allows(self, seq: int | None) -> bool:
        """Whether an event may be written: nothing past its user's departure, nor, once
        they are departing, any event outside the room's order (typing, an edit)."""
        until = self.until
        return until is None or (seq is not None and seq <= until)

    def outlived(self, seq: int) -> bool:
        """The departure at ``seq`` ended a membership before the one this subscription
        found: its user rejoined the room since."""
        return self.member_at is not None and seq <= self.member_at


@dataclass(frozen=True, slots=True)
class _CatchUp:
    room_id: uuid.UUID
    subscription: _Subscription
    since_seq: int | None


@dataclass(frozen=True, slots=True)
class _FillTo:
    room_id: uuid.UUID
    seq: int


@dataclass(frozen=True, slots=True)
class _Departure:
    room_id: uuid.UUID
    subscription: _Subscription
    seq: int


_Item: TypeAlias = RoomEvent | _CatchUp | _FillTo | _Departure | str


def _text(frame: str) -> dict[str, Any]:
    """The ASGI message that sends ``frame`` as a text frame."""
    return {"type": "websocket.send", "text": frame}


def _left(room_id: uuid.UUID) -> str:
    """The frame that ends a subscription whose user is no longer a member of the room."""
    return UnsubscribedFrame(room_id=room_id, reason="left").model_dump_json()


class Connection:
    """The Observer's observer: the hub pushes events, the writer sends them in order.

    The outbox is bounded. A client that reads too slowly fills it, and is then closed with
    1013 instead of growing this process's memory; it reconnects and resumes with
    ``since_seq``. For each subscribed room the connection keeps the last seq it wrote: a
    seq at or below it is a duplicate and skipped, a seq beyond the next one means a gap,
    filled from the database before going on. So whatever reaches the outbox, the client
    sees each room's messages in order, once each.

    The writer is a task that writes every frame waiting each time it wakes: a burst costs
    one wake-up, not one per frame. Once the outbox is empty it parks, for waking a parked
    task costs less than starting one; the hub's sweep ends writers that stayed parked a
    whole sweep interval, so an idle socket keeps neither a task nor an outbox.

    Where the server can write a frame at once (``write_now``, see ``direct_write``), a frame
    that finds nothing queued or being written (a room event, with nothing missing before
    it, or a reply) is written by ``deliver`` or ``send`` itself, in the caller's turn, such
    as the hub's loop over a room: no writer wakes. The writer, when it runs, takes the same
    way for each frame the transport accepts now, and ASGI's ``send`` for the others.
    """

    __slots__ = (
        "_context",
        "_history",
        "_loop",
        "_max_queue",
        "_on_close",
        "_on_delivered",
        "_outbox",
        "_parked",
        "_parked_at_last_sweep",
        "_send",
        "_subscriptions",
        "_write_now",
        "_writer",
        "close_code",
        "close_reason",
        "closed",
        "id",
        "user_id",
    )

    def __init__(
        self,
        connection_id: uuid.UUID,
        send: AsgiSend,
        user_id: uuid.UUID,
        history: History,
        *,
        max_queue: int,
        on_delivered: Callable[[float | None], None] = lambda _latency: None,
        on_close: Callable[[], None] = lambda: None,
        write_now: WriteNow | None = None,
    ) -> None:
        self.id = connection_id
        self.user_id = user_id
        self._send = send
        self._write_now = write_now
        self._history = history
        self._max_queue = max_queue
        self._subscriptions: dict[uuid.UUID, _Subscription] = {}
        # The outbox and its writer exist together, only while the socket is busy.
        self._outbox: deque[_Item] | None = None
        self._writer: asyncio.Task[None] | None = None
        # What the parked writer waits on: True to write again, False to end.
        self._parked: asyncio.Future[bool] | None = None
        self._parked_at_last_sweep: asyncio.Future[bool] | None = None
        self._loop = asyncio.get_running_loop()
        # The writer is started by whichever task delivers (usually the hub's listener), but
        # runs in the socket's own context: its log lines carry the socket's ids.
        self._context = contextvars.copy_context()
        self.closed = False
        self.close_code: int | None = None
        self.close_reason = ""
        self._on_delivered = on_delivered
        self._on_close = on_close

    # --- fed by the hub and the receive loop -------------------------------------

    def deliver(self, item: RoomEvent) -> bool:
        """Hand the socket a room event. True when it was a message, written here and now:
        the caller counts those as delivered (the hub counts a room's at once), and the
        writer counts the messages it writes later."""
        write_now = self._write_now
        if write_now is not None and self._writer_idle():
            # Written (or dropped) here and now, as the server can write frames at once.
            subscription = self._subscriptions.get(item.room_id)
            if subscription is None:
                return False  # not subscribed (any more)
            seq = item.event.seq
            step = _step(subscription.last_seq, seq)
            if step is _SKIP:
                return False
            if step is _WRITE and subscription.until is None and write_now(item.wire):
                if seq is None:
                    return False  # not a message: typing, presence, an edit
                subscription.last_seq = seq
                return True
        # For the writer: it is busy, a gap is to be filled first, or the socket cannot
        # take the frame now.
        self._put(item)
        return False

    def send(self, frame: str) -> None:
        """A frame of this socket's own: a reply, or an event for its user."""
        write_now = self._write_now
        if write_now is None or not self._writer_idle() or not write_now(text_frame(frame)):
            self._put(frame)

    def _writer_idle(self) -> bool:
        """Nothing queued or being written (the writer, if any, is parked): a frame written
        now keeps its place in line."""
        outbox = self._outbox
        return not self.closed and (outbox is None or (not outbox and self._parked is not None))

    def subscribe(
        self, room_id: uuid.UUID, since_seq: int | None, on_left: Callable[[], None] = _nothing
    ) -> None:
        """Start a room: replay after ``since_seq`` (or start at the newest), then live.

        Its catch-up reads the membership again, where the room stands, at the moment the
        subscription becomes live: the caller adds the socket to the room's sockets before
        anything awaits, so a departure that commits after that read reaches it through
        ``depart``, and one committed before it is seen by it. ``on_left`` is called when the
        subscription ends because its user is no longer a member.
        """
        self.unsubscribe(room_id)
        subscription = self._subscriptions[room_id] = _Subscription(on_left)
        self._put(_CatchUp(room_id, subscription, since_seq))

    def fill_to(self, room_id: uuid.UUID, seq: int) -> None:
        """The room's live events start after ``seq``: write whatever up to it is missing.

        The hub says so to a socket that subscribed while it was starting the room: the
        socket's catch-up may have read where the room stood before the hub did, and a
        message committed between the two reads would reach it neither way, with no later
        event to reveal the gap.
        """
        self._put(_FillTo(room_id, seq))

    def unsubscribe(self, room_id: uuid.UUID) -> None:
        subscription = self._subscriptions.pop(room_id, None)
        if subscription is not None:
            subscription.active = False

    def depart(self, room_id: uuid.UUID, seq: int) -> None:
        """The user left the room with message ``seq``: end the subscription with an
        ``unsubscribed`` frame once what is queued for the room before the departure is
        written (the "left" message among it), and write nothing after ``seq``. From now on
        it no longer counts as subscribed."""
        subscription = self._subscriptions.get(room_id)
        if subscription is None or subscription.outlived(seq):
            return
        if subscription.member_at is None:
            # Its catch-up has yet to read the membership: it judges the departure then.
            subscription.departures.append(seq)
        elif subscription.until is None or seq < subscription.until:
            subscription.until = seq
        if subscription.member_at is not None and self._writer_idle():
            if self._end_as_left(room_id, subscription):
                self.send(_left(room_id))
        else:
            self._put(_Departure(room_id, subscription, seq))

    def _end_as_left(self, room_id: uuid.UUID, subscription: _Subscription) -> bool:
        """End the subscription (if it still stands) as its user is no member any more, and
        tell the hub; True if it did, and the caller writes the ``unsubscribed`` frame."""
        if self._subscriptions.get(room_id) is not subscription:
            return False  # ended already, or made again since
        self.unsubscribe(room_id)
        subscription.on_left()
        return True

    @property
    def rooms(self) -> list[uuid.UUID]:
        return list(self._subscriptions)

    def is_subscribed(self, room_id: uuid.UUID) -> bool:
        """Subscribed, its catch-up found the user a member, and they have not left since:
        ``typing`` there needs no read of the membership."""
        subscription = self._subscriptions.get(room_id)
        return (
            subscription is not None
            and subscription.member_at is not None
            and subscription.until is None
        )

    # --- lifecycle ------------------------------------------------------------------

    def close(self, code: int | None, reason: str = "") -> None:
        """Stop writing, and have the socket's owner close it with ``code`` (None: the socket
        is gone already). The first call decides; later ones change nothing."""
        if self.closed:
            return
        self.closed = True
        self.close_code, self.close_reason = code, reason
        writer = self._writer
        if writer is not None and writer is not asyncio.current_task(self._loop):
            writer.cancel()
        self._on_close()

    def _put(self, item: _Item) -> None:
        if self.closed:
            return
        outbox = self._outbox
        if outbox is None:
            outbox = self._outbox = deque()
            self._writer = self._loop.create_task(self._write_outbox(outbox), context=self._context)
        elif len(outbox) >= self._max_queue:
            self.close(CLOSE_TRY_AGAIN_LATER, "too slow: reconnect and resume with since_seq")
            return
        outbox.append(item)
        if self._parked is not None:
            self._unpark(write_again=True)

    def end_idle_writer(self) -> None:
        """The hub's periodic sweep: a writer parked since the previous sweep ends."""
        if self._parked is not None and self._parked is self._parked_at_last_sweep:
            self._unpark(write_again=False)
        self._parked_at_last_sweep = self._parked

    def _unpark(self, *, write_again: bool) -> None:
        parked = self._parked
        if parked is not None and not parked.done():  # done: cancelled with its writer
            self._parked = None
            parked.set_result(write_again)

    # --- the writer ------------------------------------------------------------------

    async def _write_outbox(self, outbox: deque[_Item]) -> None:
        try:
            while True:
                while outbox:
                    await self._write_item(outbox.popleft())
                parked = self._parked = self._loop.create_future()
                # Told to end, it still writes what came in meanwhile.
                if not await parked and not outbox:
                    return
        except DATABASE_UNREACHABLE:  # before OSError: a refused connection is one
            # A catch-up or a gap could not be read: the client resumes from its last seq.
            log.warning("database unavailable while writing to a socket")
            self.close(CLOSE_TRY_AGAIN_LATER, "database unavailable: reconnect and resume")
        except OSError:  # the client is gone (ASGI servers raise OSError subclasses)
            self.close(None)
        except RuntimeError as error:  # the socket was closed while frames waited
            log.debug("socket closed under its writer: %s", error)
            self.close(None)
        except Exception:
            log.exception("writing to the socket failed")
            self.close(CLOSE_INTERNAL_ERROR, "internal error")
        finally:
            self._outbox = self._writer = self._parked = self._parked_at_last_sweep = None

    async def _write_item(self, item: _Item) -> None:
        if isinstance(item, RoomEvent):
            await self._write_room_event(item)
        elif isinstance(item, str):
            await self._write(item)
        elif isinstance(item, _CatchUp):
            await self._catch_up(item.room_id, item.subscription, item.since_seq)
        elif isinstance(item, _FillTo):
            await self._fill_to(item.room_id, item.seq)
        else:
            await self._depart(item)

    async def _write(self, frame: str, wire: bytes | None = None) -> None:
        """One frame: at once if the server can take it now (``wire``: the frame already
        encoded), else through ASGI's ``send``, which waits for the transport, or raises."""
        write_now = self._write_now
        if write_now is None or not write_now(text_frame(frame) if wire is None else wire):
            await self._send(_text(frame))

    async def _write_room_event(self, item: RoomEvent) -> None:
        subscription = self._subscriptions.get(item.room_id)
        if subscription is None:
            return  # unsubscribed since the event was queued
        event = item.event
        step = _step(subscription.last_seq, event.seq)
        if step is _SKIP or not subscription.allows(event.seq):
            return
        if step is _FILL_FIRST:
            assert event.seq is not None  # noqa: S101  (only seq'd events leave a gap)
            await self._write_from_history(item.room_id, subscription, upto=event.seq - 1)
            if not subscription.active:
                return
        await self._write(event.frame, item.wire)
        if event.seq is not None:
            subscription.last_seq = event.seq
            self._on_delivered(event.latency())

    async def _depart(self, departure: _Departure) -> None:
        # Not a departure from the membership its catch-up found (the user rejoined since),
        # nor one of a subscription made again since.
        subscription = departure.subscription
        if not subscription.outlived(departure.seq) and self._end_as_left(
            departure.room_id, subscription
        ):
            await self._write(_left(departure.room_id))

    async def _catch_up(
        self, room_id: uuid.UUID, subscription: _Subscription, since_seq: int | None
    ) -> None:
        member_at = await self._history.last_seq_if_member(room_id, self.user_id)
        if not subscription.active:
            return
        if member_at is None:
            # They left since the subscribe frame was checked: nothing of the room is written.
            if self._end_as_left(room_id, subscription):
                await self._write(_left(room_id))
            return
        subscription.member_at = member_at
        # Departures noted meanwhile that came after the read end this membership.
        subscription.until = min(
            (seq for seq in subscription.departures if seq > member_at), default=None
        )
        if since_seq is None:
            last_seq = subscription.last_seq = member_at
        else:
            subscription.last_seq = since_seq
            await self._write_from_history(room_id, subscription, upto=None)
            last_seq = subscription.last_seq
        if subscription.active:
            frame = SubscribedFrame(room_id=room_id, last_seq=last_seq)
            await self._write(frame.model_dump_json())

    async def _fill_to(self, room_id: uuid.UUID, seq: int) -> None:
        subscription = self._subscriptions.get(room_id)
        # None, or no last seq: unsubscribed, or a catch-up pending that will read further.
        if subscription is not None and subscription.last_seq is not None:
            await self._write_from_history(room_id, subscription, upto=seq)

    async def _write_from_history(
        self, room_id: uuid.UUID, subscription: _Subscription, upto: int | None
    ) -> None:
        """Write the stored messages after the subscription's last seq (up to ``upto``),
        advancing it as they go; stop if the subscription ends meanwhile."""
        while subscription.active:
            after = subscription.last_seq
            assert after is not None  # noqa: S101
            if upto is not None and after >= upto:
                return
            page = await self._history.after(room_id, after, PAGE_SIZE)
            for event in page:
                seq = event.seq
                assert seq is not None  # noqa: S101  (stored messages all have one)
                if (
                    not subscription.active
                    or (upto is not None and seq > upto)
                    or not subscription.allows(seq)
                ):
                    return
                await self._write(event.frame)
                self._on_delivered(None)
                subscription.last_seq = seq
                if event.departing_user == self.user_id and not subscription.outlived(seq):
                    # They left here: the subscription ends now, whether or not a departure
                    # comes from the hub (a room started after it would send none).
                    if self._end_as_left(room_id, subscription):
                        await self._write(_left(room_id))
                    return
            if len(page) < PAGE_SIZE:
                return
