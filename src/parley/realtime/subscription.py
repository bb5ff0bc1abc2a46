"""One room on one socket: a small state machine, and the cursor that keeps the room's order.

::

    CATCHING_UP --go_live--> LIVE
         |                     |
         +------depart---------+------> ENDED    (and, from any state, unsubscribe)

The room's feed on this instance (``hub.py``) is the one owner of the room's order: it hands
every subscription of the room each event once, in seq order, with no gap. A subscription
only has to join that stream where its catch-up leaves off, and stop where its user leaves:

- **catching up**: its catch-up (a job its socket's writer runs in its turn) reads the
  membership and where the room stands in one statement, then replays what came after
  ``since_seq``; what the feed hands over meanwhile is held.
- **live**: each event goes to the socket's outbox as it comes, the next seq after ``cursor``
  (the last seq handed over); the held events go first, less what the catch-up already read.
- **ended**: nothing more is handed over; what was is still written, in order.

A subscription is made only on a started feed, and its catch-up reads after it has joined
the room (``Hub.join_room``): so the catch-up reads the room at least as far as the feed had
come, and everything after comes from the feed, held or live. A gap at a subscription so
cannot happen; should one appear anyway, the socket is closed to resume with ``since_seq``,
the client's one way to recover, rather than mended here.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from enum import Enum

from parley.db.outage import DATABASE_UNREACHABLE
from parley.realtime.envelope import Outbound
from parley.realtime.frames import SubscribedFrame, UnsubscribedFrame
from parley.realtime.history import PAGE_SIZE, History
from parley.realtime.outbox import CLOSE_TRY_AGAIN_LATER, Outbox
from parley.realtime.room_event import RoomEvent

__all__ = ["Subscription", "SubscriptionState"]

log = logging.getLogger(__name__)


class SubscriptionState(Enum):
    CATCHING_UP = "catching up"
    LIVE = "live"
    ENDED = "ended"


# The members under plain names: every delivery asks, and reading a member off its class
# costs more than the rest of the question.
_CATCHING_UP = SubscriptionState.CATCHING_UP
_LIVE = SubscriptionState.LIVE
_ENDED = SubscriptionState.ENDED


def _ignore(_subscription: Subscription) -> None:
    pass


class Subscription:
    """One room on one socket, from its ``subscribe`` to its end.

    ``member_at`` is where the room stood when its catch-up found the user a member: their
    "left" message at or before it ended an earlier membership (they rejoined since), one
    after it ends this one. ``on_left`` tells the hub when the subscription ends so.
    """

    __slots__ = (
        "_history",
        "_on_left",
        "_outbox",
        "_pending",
        "cursor",
        "member_at",
        "room_id",
        "since_seq",
        "state",
        "user_id",
    )

    def __init__(
        self,
        room_id: uuid.UUID,
        user_id: uuid.UUID,
        since_seq: int | None,
        *,
        outbox: Outbox,
        history: History,
        on_left: Callable[[Subscription], None] = _ignore,
    ) -> None:
        self.room_id = room_id
        self.user_id = user_id
        self.since_seq = since_seq
        self.state = _CATCHING_UP
        self.cursor = 0  # the last seq handed over: set by the catch-up
        self.member_at: int | None = None
        self._pending: list[RoomEvent] = []  # what the feed handed over while catching up
        self._outbox = outbox
        self._history = history
        self._on_left = on_left
        outbox.put(self._catch_up)

    @property
    def live(self) -> bool:
        return self.state is _LIVE

    # --- the room's events, from the hub's loop over its subscriptions --------------------

    def deliver(self, item: RoomEvent) -> bool:
        """The room's next event. True when it was a message written here and now: the hub
        counts those for a room at once, the outbox's writer the others."""
        event = item.event
        seq = event.seq
        if (
            self.state is _LIVE
            and seq is not None
            and seq == self.cursor + 1
            and event.departing_user is None
        ):
            # Nearly every delivery: the next message, to a live subscription.
            self.cursor = seq
            return self._outbox.offer(item)
        return self._deliver_otherwise(item)

    def _deliver_otherwise(self, item: RoomEvent) -> bool:
        state = self.state
        if state is _CATCHING_UP:
            if len(self._pending) >= self._outbox.max_queue:
                self._outbox.close_too_slow()
            else:
                self._pending.append(item)
            return False
        if state is _ENDED:
            return False
        return self._hand_over(item)

    def _hand_over(self, item: RoomEvent) -> bool:
        """LIVE: the event goes to the outbox if it is the next in the room's order (or has no
        seq), and the subscription departs at its user's "left" message."""
        event = item.event
        seq = event.seq
        if seq is None:  # typing, presence, an edit: not in the room's order
            self._outbox.offer(item)
            return False
        written = False
        if seq == self.cursor + 1:
            self.cursor = seq
            written = self._outbox.offer(item)
        elif seq > self.cursor:
            self._lost_order(seq)
            return False
        # At or below the cursor, its catch-up has written it already (or the client had it).
        if self._ends_membership(event):
            self.depart()
        return written

    def _ends_membership(self, event: Outbound) -> bool:
        """Its user's "left" message, from the membership this subscription found (one at or
        before ``member_at`` ended an earlier one: they rejoined since)."""
        member_at = self.member_at
        return (
            event.departing_user == self.user_id
            and event.seq is not None
            and member_at is not None
            and event.seq > member_at
        )

    def _lost_order(self, seq: int) -> None:
        # The feed hands every subscription every event after it joined: no gap can reach
        # here. Should one anyway, the client resumes with ``since_seq``.
        log.error(
            "room %s skipped from seq %d to %d on a socket; closing it to resume",
            self.room_id,
            self.cursor,
            seq,
        )
        self.state = _ENDED
        self._outbox.close(CLOSE_TRY_AGAIN_LATER, "events missed: reconnect and resume")

    # --- the transitions --------------------------------------------------------------------

    async def _catch_up(self) -> None:
        """CATCHING_UP's work, a job the socket's writer runs in its turn: read the
        membership with where the room stands, replay after ``since_seq``, then go live, or
        depart. A database it cannot read closes the socket (1013): the client resumes."""
        try:
            await self._read_and_replay()
        except DATABASE_UNREACHABLE:
            log.warning("database unavailable while catching a socket up")
            self._outbox.close(CLOSE_TRY_AGAIN_LATER, "database unavailable: reconnect and resume")

    async def _read_and_replay(self) -> None:
        if self.state is not _CATCHING_UP:
            return  # ended before its turn came
        member_at = await self._history.last_seq_if_member(self.room_id, self.user_id)
        if self.state is not _CATCHING_UP:
            return
        if member_at is None:
            # They left since the subscribe frame was checked: nothing of the room is written.
            self.depart()
            return
        self.member_at = member_at
        if self.since_seq is None:
            self.cursor = member_at
        else:
            self.cursor = self.since_seq
            await self._replay()
        if self.state is _CATCHING_UP:
            self.go_live()

    async def _replay(self) -> None:
        """Write the stored messages after the cursor, advancing it; stop where the
        subscription ends (its user's "left" message, or an unsubscribe meanwhile)."""
        while True:
            page = await self._history.after(self.room_id, self.cursor, PAGE_SIZE)
            for event in page:
                seq = event.seq
                if self.state is not _CATCHING_UP or seq is None:
                    return
                await self._outbox.write_message(event.frame)
                self.cursor = seq
                if self._ends_membership(event):
                    self.depart()
                    return
            if len(page) < PAGE_SIZE:
                return

    def go_live(self) -> None:
        """CATCHING_UP -> LIVE: ``subscribed``, then the events held meanwhile, less those the
        catch-up read. Called by the catch-up, in the writer: all of it is queued behind
        what the catch-up wrote, in this order."""
        pending, self._pending = self._pending, []
        self.state = _LIVE
        self._outbox.send(
            SubscribedFrame(room_id=self.room_id, last_seq=self.cursor).model_dump_json()
        )
        for item in pending:
            if self.state is not _LIVE:
                return  # departed at one of them
            self._hand_over(item)

    def depart(self) -> None:
        """CATCHING_UP or LIVE -> ENDED: its user is no member of the room any more (the
        catch-up's read says so, or the room's stream reached their "left" message).
        ``unsubscribed`` with reason "left" goes after everything handed over so far; the
        hub lets go of the subscription (``on_left``)."""
        self.state = _ENDED
        self._pending = []
        frame = UnsubscribedFrame(room_id=self.room_id, reason="left")
        self._outbox.send(frame.model_dump_json())
        self._on_left(self)

    def unsubscribe(self) -> None:
        """Any state -> ENDED, asked for: an ``unsubscribe`` frame, a new ``subscribe`` to the
        room, the socket's end. Nothing more is handed over; what was is still written."""
        self.state = _ENDED
        self._pending = []
