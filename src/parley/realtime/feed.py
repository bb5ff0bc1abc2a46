"""A room's ordered stream on one instance: the sequencer between the broker and the sockets."""

from __future__ import annotations

from parley.realtime.envelope import Outbound

__all__ = ["RoomFeed"]


class RoomFeed:
    """Puts a room's ``message`` events in seq order, drops duplicates, and finds gaps.

    Pub/sub gives no order across publishers: two instances committing seq 5 and 6 may
    publish 6 first. The feed holds 6 until 5 arrives; ``missing()`` tells the hub which
    seqs to read from the database when the wait lasts too long (or an event was lost).
    Events without a seq (edits, typing, presence) pass straight through.
    """

    def __init__(self) -> None:
        self.expected: int | None = None  # the next seq to deliver; None until started
        self._pending: dict[int, Outbound] = {}

    def start(self, last_seq: int) -> list[Outbound]:
        """Begin after ``last_seq`` (read from the database); returns what is now in order."""
        self.expected = last_seq + 1
        return self._drain()

    def accept(self, event: Outbound) -> list[Outbound]:
        """Take one event; return the events now deliverable, in order."""
        if event.seq is None:
            return [event]
        if self.expected is not None and event.seq < self.expected:
            return []  # already delivered: a duplicate or a late copy after a gap fill
        self._pending[event.seq] = event
        return self._drain() if self.expected is not None else []

    def missing(self) -> tuple[int, int] | None:
        """``(first, last)`` seqs that hold back pending events, or None when nothing waits."""
        if self.expected is None or not self._pending:
            return None
        return self.expected, min(self._pending) - 1

    @property
    def waiting(self) -> int:
        return len(self._pending)

    def _drain(self) -> list[Outbound]:
        assert self.expected is not None  # noqa: S101
        for seq in [seq for seq in self._pending if seq < self.expected]:
            del self._pending[seq]
        ready: list[Outbound] = []
        while (event := self._pending.pop(self.expected, None)) is not None:
            ready.append(event)
            self.expected += 1
        return ready
