"""Ports for the servers tests start, safe when several pytest workers start them at once."""

from __future__ import annotations

import itertools
import os
import socket

__all__ = ["free_port"]

# Below Linux's ephemeral range (32768 and up), where the kernel picks the local port of every
# outgoing connection: a port found free there can be taken by some connection before the
# server binds it. Each pytest-xdist worker counts through a block of its own. A second suite
# run at the same time (``scripts/loaded-runs``) starts its blocks higher, at
# ``PARLEY_TEST_FIRST_PORT``.
_FIRST_PORT = int(os.environ.get("PARLEY_TEST_FIRST_PORT", "20000"))
_BLOCK = 1_500


def _worker_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")  # "gw0", "gw1"…; unset when serial
    return int(worker.removeprefix("gw"))


_candidates = itertools.cycle(
    range(_FIRST_PORT + _worker_index() * _BLOCK, _FIRST_PORT + (_worker_index() + 1) * _BLOCK)
)


def free_port() -> int:
    """A port nothing listens on now, that no other worker of this run will hand out."""
    for port in itertools.islice(_candidates, _BLOCK):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue  # in use, or still in TIME_WAIT from an earlier test
            return port
    msg = f"no free port in this worker's block of {_BLOCK}"
    raise RuntimeError(msg)
