"""One WebSocket on this instance: its user, its outbox, and its subscriptions, one per room."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from parley.realtime.direct_write import WriteNow
from parley.realtime.history import History
from parley.realtime.outbox import CLOSE_INTERNAL_ERROR, CLOSE_TRY_AGAIN_LATER, AsgiSend, Outbox
from parley.realtime.subscription import Subscription

__all__ = [
    "CLOSE_INTERNAL_ERROR",
    "CLOSE_TRY_AGAIN_LATER",
    "AsgiSend",
    "Connection",
]


def _ignore(_subscription: Subscription) -> None:
    pass


class Connection:
    """The socket as the hub and its session see it. Its frames go out through its
    ``outbox`` (the transport); each room it subscribes to is a ``Subscription`` (the state
    machine and the cursor), which the hub hands the room's events to directly."""

    __slots__ = ("_history", "_subscriptions", "id", "outbox", "user_id")

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
        self._history = history
        self.outbox = Outbox(
            send,
            max_queue=max_queue,
            write_now=write_now,
            on_delivered=on_delivered,
            on_close=on_close,
        )
        # The socket's latest subscription to each room; one that ended stays until the room
        # is subscribed or unsubscribed again, and counts for nothing.
        self._subscriptions: dict[uuid.UUID, Subscription] = {}

    def send(self, frame: str) -> None:
        """A frame of this socket's own: a reply, or an event for its user."""
        self.outbox.send(frame)

    # --- subscriptions ----------------------------------------------------------------------

    def subscribe(
        self,
        room_id: uuid.UUID,
        since_seq: int | None,
        on_left: Callable[[Subscription], None] = _ignore,
    ) -> Subscription:
        """A new subscription to the room, catching up from ``since_seq`` (None: from where
        the room stands); one the socket had to the room ends. ``on_left`` is called when it
        ends because its user is no member of the room any more."""
        self.unsubscribe(room_id)
        subscription = self._subscriptions[room_id] = Subscription(
            room_id,
            self.user_id,
            since_seq,
            outbox=self.outbox,
            history=self._history,
            on_left=on_left,
        )
        return subscription

    def unsubscribe(self, room_id: uuid.UUID) -> Subscription | None:
        """End the socket's subscription to the room; the one it was, if any."""
        subscription = self._subscriptions.pop(room_id, None)
        if subscription is not None:
            subscription.unsubscribe()
        return subscription

    @property
    def rooms(self) -> list[uuid.UUID]:
        """The rooms the socket subscribed to and has not unsubscribed from: the hub lets go
        of each when the socket ends (``Hub.unregister``)."""
        return list(self._subscriptions)

    def is_subscribed(self, room_id: uuid.UUID) -> bool:
        """Live in the room: its catch-up found the user a member, and they have not left
        since, so ``typing`` there needs no read of the membership."""
        subscription = self._subscriptions.get(room_id)
        return subscription is not None and subscription.live

    # --- lifecycle, which is the outbox's -------------------------------------------------

    @property
    def closed(self) -> bool:
        return self.outbox.closed

    @property
    def close_code(self) -> int | None:
        return self.outbox.close_code

    @property
    def close_reason(self) -> str:
        return self.outbox.close_reason

    def close(self, code: int | None, reason: str = "") -> None:
        """Stop writing, and have the socket's owner close it with ``code`` (None: the socket
        is gone already). The first call decides; later ones change nothing."""
        self.outbox.close(code, reason)

    def end_idle_writer(self) -> None:
        self.outbox.end_idle_writer()
