"""The room feed: order, duplicates and gaps, without any I/O."""

from __future__ import annotations

import uuid

from parley.realtime.envelope import Outbound, decode_envelope, encode_envelope
from parley.realtime.feed import RoomFeed


def _message(seq: int) -> Outbound:
    return Outbound(frame=f'{{"seq": {seq}}}', seq=seq)


def _seqs(events: list[Outbound]) -> list[int | None]:
    return [event.seq for event in events]


def test_in_order_events_pass_straight_through() -> None:
    feed = RoomFeed()
    assert feed.start(0) == []
    assert _seqs(feed.accept(_message(1))) == [1]
    assert _seqs(feed.accept(_message(2))) == [2]
    assert feed.missing() is None


def test_an_early_event_waits_for_the_gap() -> None:
    feed = RoomFeed()
    feed.start(4)
    assert feed.accept(_message(7)) == []
    assert feed.missing() == (5, 6)
    assert _seqs(feed.accept(_message(5))) == [5]
    assert feed.missing() == (6, 6)
    assert _seqs(feed.accept(_message(6))) == [6, 7]
    assert feed.missing() is None
    assert feed.waiting == 0


def test_duplicates_and_late_copies_are_dropped() -> None:
    feed = RoomFeed()
    feed.start(0)
    feed.accept(_message(1))
    assert feed.accept(_message(1)) == []
    feed.accept(_message(3))
    assert feed.accept(_message(3)) == []
    assert _seqs(feed.accept(_message(2))) == [2, 3]


def test_events_before_the_start_are_held_then_sorted() -> None:
    feed = RoomFeed()
    assert feed.accept(_message(12)) == []
    assert feed.accept(_message(11)) == []
    assert feed.accept(_message(10)) == []
    # The database says the room stood at 10 when we started listening.
    assert _seqs(feed.start(10)) == [11, 12]


def test_events_without_a_seq_are_never_held() -> None:
    feed = RoomFeed()
    typing = Outbound(frame='{"type": "typing"}')
    assert feed.accept(typing) == [typing]
    feed.start(0)
    feed.accept(_message(2))
    assert feed.accept(typing) == [typing]


def test_the_envelope_round_trips() -> None:
    user, room = uuid.uuid4(), uuid.uuid4()
    for event in (
        Outbound(frame='{"a": "b:c\\n"}', seq=42),
        Outbound(frame="{}", exclude_user=user),
        Outbound(frame="{}", departing_user=room),
        Outbound(frame="{}"),
    ):
        assert decode_envelope(encode_envelope(event)) == event
