"""Leaving a room while one's sockets on both instances subscribe to it: the leave wins,
on the instance that served it and on the other (``tests/support/departures.py``)."""

from __future__ import annotations

import httpx
import pytest

from tests.support.departures import LeavingRace
from tests.support.processes import Cluster

ROUNDS = 300
SOCKETS_PER_INSTANCE = 3


# Three hundred rounds: about 30 s on a quiet machine, 100 s with both cores busy.
@pytest.mark.timeout(300)
async def test_a_subscribe_racing_a_leave_never_outlives_it_on_any_instance(
    cluster: Cluster, api: httpx.AsyncClient
) -> None:
    urls = [cluster.url(0), cluster.url(1)]
    race = await LeavingRace.start(api, urls, sockets_per_instance=SOCKETS_PER_INSTANCE)
    leaked = {}
    for number in range(ROUNDS):
        if found := await race.round(number):
            leaked[number] = found
    assert not leaked, (
        f"{len(leaked)} of {ROUNDS} rounds leaked; the first: {next(iter(leaked.items()))}"
    )
