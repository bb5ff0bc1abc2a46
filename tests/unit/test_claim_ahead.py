"""How far a worker claims ahead of its free slots, from the pace of its recent jobs."""

from __future__ import annotations

from parley.tasks.claim_ahead import ClaimAhead


def test_nothing_is_claimed_ahead_before_a_job_has_shown_the_pace() -> None:
    assert ClaimAhead(slots=4, horizon=0.5, limit=32).count() == 0


def test_as_many_as_the_slots_would_start_within_the_horizon() -> None:
    ahead = ClaimAhead(slots=4, horizon=0.5, limit=32)
    ahead.observe(0.25)  # each slot starts 2 jobs in 0.5 s
    assert ahead.count() == 8


def test_never_more_than_the_limit() -> None:
    ahead = ClaimAhead(slots=4, horizon=0.5, limit=32)
    for _ in range(200):
        ahead.observe(0.000_001)
    assert ahead.count() == 32


def test_slow_jobs_are_not_claimed_ahead() -> None:
    ahead = ClaimAhead(slots=4, horizon=0.05, limit=32)
    ahead.observe(2.0)  # an image to decode: another worker may be idle
    assert ahead.count() == 0


def test_the_pace_follows_a_change_within_a_few_dozen_jobs() -> None:
    ahead = ClaimAhead(slots=4, horizon=0.05, limit=32)
    for _ in range(100):
        ahead.observe(0.001)
    assert ahead.count() == 32
    for _ in range(60):
        ahead.observe(2.0)
    assert ahead.count() == 0
