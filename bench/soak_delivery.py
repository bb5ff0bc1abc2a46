"""The delivery guarantee as one socket sees one room: every seq after it subscribed, exactly
once, in seq order."""

from __future__ import annotations

__all__ = ["RoomDelivery"]


class RoomDelivery:
    """The seqs one socket received in one room, checked as they arrive.

    A bytearray indexed by ``seq - start_seq - 1`` remembers what was seen: one byte per
    message, so two thousand sockets over a ten-minute soak cost about a megabyte.
    """

    def __init__(self, start_seq: int) -> None:
        self.start_seq = start_seq  # the room's last seq when the socket subscribed
        self.received = 0
        self.duplicates = 0
        # A new seq other than the one after the newest so far: a gap, a late arrival, or a
        # seq from before the subscription.
        self.out_of_order = 0
        self._newest = start_seq
        self._seen = bytearray()

    def observe(self, seq: int) -> None:
        self.received += 1
        index = seq - self.start_seq - 1
        if 0 <= index < len(self._seen) and self._seen[index]:
            self.duplicates += 1
            return
        if seq != self._newest + 1:
            self.out_of_order += 1
        self._newest = max(self._newest, seq)
        if index < 0:
            return
        if index >= len(self._seen):
            self._seen.extend(bytes(index + 1 - len(self._seen)))
        self._seen[index] = 1

    def expected(self, last_seq: int) -> int:
        """How many messages the socket should have once the room is at ``last_seq``."""
        return max(last_seq - self.start_seq, 0)

    def lost(self, last_seq: int) -> int:
        """Messages up to ``last_seq`` that never arrived."""
        expected = self.expected(last_seq)
        return expected - self._seen.count(1, 0, expected)
