"""What travels on the broker: a one-line header, then the frame exactly as clients get it.

``b"<seq>:<exclude_user>:<departing_user>:<published_at>\\n<frame json>"`` — ``seq`` is set for
``message`` events (the hub orders and de-duplicates by it), ``exclude_user`` for events the
acting user does not get back (typing), ``departing_user`` on the system message that records a
user leaving: once it is delivered, that user's sockets stop receiving the room. Riding on a
seq'd message, the departure is as reliable as the message (gaps are filled from the
database). The frame is encoded once, by the publisher, and forwarded to every socket
untouched: no instance parses or re-encodes it per socket.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

__all__ = ["Outbound", "decode_envelope", "encode_envelope"]


@dataclass(frozen=True, slots=True)
class Outbound:
    frame: str
    seq: int | None = None
    exclude_user: uuid.UUID | None = None
    departing_user: uuid.UUID | None = None
    published_at: float | None = None  # epoch seconds, for the delivery-latency metric

    def latency(self) -> float | None:
        """Seconds since it was published, if it says when."""
        return None if self.published_at is None else time.time() - self.published_at


def encode_envelope(event: Outbound) -> bytes:
    seq = "" if event.seq is None else str(event.seq)
    exclude = "" if event.exclude_user is None else event.exclude_user.hex
    departing = "" if event.departing_user is None else event.departing_user.hex
    at = "" if event.published_at is None else repr(event.published_at)
    return f"{seq}:{exclude}:{departing}:{at}\n{event.frame}".encode()


def decode_envelope(data: bytes) -> Outbound:
    header, _, frame = data.partition(b"\n")
    seq, exclude, departing, at = header.split(b":")
    return Outbound(
        frame=frame.decode(),
        seq=int(seq) if seq else None,
        exclude_user=uuid.UUID(exclude.decode()) if exclude else None,
        departing_user=uuid.UUID(departing.decode()) if departing else None,
        published_at=float(at) if at else None,
    )
