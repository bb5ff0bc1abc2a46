"""The soak's steady traffic: messages posted at a fixed total rate, round robin over the rooms,
each one waiting for its own ack so that a slow ack never slows the pace."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from bench.soak_socket import SendRefused, SoakSocket

__all__ = ["ACK_TIMEOUT_SECONDS", "Traffic"]

ACK_TIMEOUT_SECONDS = 30
BODY = "soak " + "x" * 95  # about 100 bytes, like the other scenarios' messages


class Traffic:
    def __init__(self, senders: Sequence[SoakSocket], rate: float) -> None:
        """``senders``: one socket per room, posting into the room it watches."""
        self._senders = senders
        self._rate = rate
        self.sent = 0
        self.acked = 0
        self.refused = 0  # an error frame, or the socket closed before the ack
        self.unanswered = 0  # no ack within ACK_TIMEOUT_SECONDS

    async def run(self, seconds: float) -> None:
        """Post for ``seconds``, then wait for the last acks."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        posts: set[asyncio.Task[None]] = set()
        for number in range(round(seconds * self._rate)):
            # Deadlines from the start, not sleeps from the last send: no drift over minutes.
            await asyncio.sleep(max(0.0, start + number / self._rate - loop.time()))
            sender = self._senders[number % len(self._senders)]
            post = asyncio.create_task(self._post(sender, f"soak-{number}"))
            posts.add(post)
            post.add_done_callback(posts.discard)
        await asyncio.gather(*posts)

    async def _post(self, sender: SoakSocket, client_id: str) -> None:
        self.sent += 1
        try:
            async with asyncio.timeout(ACK_TIMEOUT_SECONDS):
                await sender.post(BODY, client_id)
        except SendRefused:
            self.refused += 1
        except TimeoutError:
            self.unanswered += 1
        else:
            self.acked += 1
