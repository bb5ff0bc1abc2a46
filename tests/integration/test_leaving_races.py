"""Leaving a room while one's sockets subscribe to it: the leave wins, every time.

A socket's ``subscribe`` reads the membership, then joins the room on the hub; a leave
committed between the two used to leave the socket subscribed past the "left" message,
reading the room and typing there (``tests/support/departures.py`` runs one race).
"""

from __future__ import annotations

import httpx
import pytest

from parley.core.settings import Settings
from tests.support.departures import LeavingRace

pytestmark = pytest.mark.both_databases  # the database is what these test

# Rounds on PostgreSQL, and on the embedded SQLite (one writer at a time, the same race).
ROUNDS = 200
ROUNDS_ON_SQLITE = 100
SOCKETS = 5


# Two hundred rounds: about 50 s on a quiet machine, over 100 s with both cores busy.
@pytest.mark.timeout(300)
async def test_a_subscribe_racing_a_leave_never_outlives_it(
    settings: Settings, client: httpx.AsyncClient, server_url: str
) -> None:
    race = await LeavingRace.start(client, [server_url], sockets_per_instance=SOCKETS)
    on_sqlite = settings.effective_database_url.startswith("sqlite")
    rounds = ROUNDS_ON_SQLITE if on_sqlite else ROUNDS
    leaked = {}
    for number in range(rounds):
        if found := await race.round(number):
            leaked[number] = found
    assert not leaked, (
        f"{len(leaked)} of {rounds} rounds leaked; the first: {next(iter(leaked.items()))}"
    )
