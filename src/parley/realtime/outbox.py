"""One socket's transport: frames written at once when nothing waits before them, else queued
for a writer task, in a bounded queue that closes a client too slow to drain it.

The outbox knows frames, not rooms or seqs. What is handed to it is written, in the order
handed over, or the socket closes: so a subscription (``subscription.py``) decides once, as it
hands an event over, and never looks at it again.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

from parley.realtime.direct_write import WriteNow, text_frame
from parley.realtime.room_event import RoomEvent

__all__ = ["CLOSE_INTERNAL_ERROR", "CLOSE_TRY_AGAIN_LATER", "AsgiSend", "Job", "Outbox"]

log = logging.getLogger(__name__)

CLOSE_INTERNAL_ERROR = 1011
CLOSE_TRY_AGAIN_LATER = 1013

# The ASGI server's own ``send``. Frames go to it directly: a framework's wrapper would
# re-check the socket's state on every frame of every socket.
AsgiSend: TypeAlias = Callable[[dict[str, Any]], Awaitable[None]]

# Work the writer does in its turn, while what was handed over after it waits: a
# subscription's catch-up, which reads the database and writes what it read (``write``).
Job: TypeAlias = Callable[[], Awaitable[None]]

_Item: TypeAlias = RoomEvent | str | Job


def _text(frame: str) -> dict[str, Any]:
    """The ASGI message that sends ``frame`` as a text frame."""
    return {"type": "websocket.send", "text": frame}


class Outbox:
    """Writes what it is handed, in order, or closes the socket.

    The queue is bounded: a client that reads too slowly fills it, and is then closed with
    1013 instead of growing this process's memory; it reconnects and resumes with
    ``since_seq``.

    The writer is a task that writes every frame waiting each time it wakes: a burst costs
    one wake-up, not one per frame. Once the queue is empty it parks, for waking a parked
    task costs less than starting one; the hub's sweep ends writers that stayed parked a
    whole sweep interval, so an idle socket keeps neither a task nor a queue.

    Where the server can write a frame at once (``write_now``, see ``direct_write``), a frame
    that finds nothing queued or being written is written by ``offer`` or ``send`` itself, in
    the caller's turn, such as the hub's loop over a room: no writer wakes. The writer, when it
    runs, takes the same way for each frame the transport accepts now, and ASGI's ``send`` for
    the others.
    """

    __slots__ = (
        "_context",
        "_loop",
        "_on_close",
        "_on_delivered",
        "_parked",
        "_parked_at_last_sweep",
        "_queue",
        "_send",
        "_write_now",
        "_writer",
        "close_code",
        "close_reason",
        "closed",
        "max_queue",
    )

    def __init__(
        self,
        send: AsgiSend,
        *,
        max_queue: int,
        write_now: WriteNow | None = None,
        on_delivered: Callable[[float | None], None] = lambda _latency: None,
        on_close: Callable[[], None] = lambda: None,
    ) -> None:
        self._send = send
        self._write_now = write_now
        self.max_queue = max_queue
        # The queue and its writer exist together, only while the socket is busy.
        self._queue: deque[_Item] | None = None
        self._writer: asyncio.Task[None] | None = None
        # What the parked writer waits on: True to write again, False to end.
        self._parked: asyncio.Future[bool] | None = None
        self._parked_at_last_sweep: asyncio.Future[bool] | None = None
        self._loop = asyncio.get_running_loop()
        # The writer is started by whichever task hands a frame over (usually the hub's
        # listener), but runs in the socket's own context: its log lines carry the socket's ids.
        self._context = contextvars.copy_context()
        self.closed = False
        self.close_code: int | None = None
        self.close_reason = ""
        self._on_delivered = on_delivered
        self._on_close = on_close

    # --- handing over: in the caller's turn, never awaiting ------------------------------

    def offer(self, item: RoomEvent) -> bool:
        """A room event, after everything handed over before it: written here and now if
        nothing waits and the transport takes it (True), else queued for the writer, which
        counts the messages it writes (the caller counts those written now)."""
        write_now = self._write_now
        if write_now is not None and self._idle() and write_now(item.wire):
            return True
        self.put(item)
        return False

    def send(self, frame: str) -> None:
        """A frame of the socket's own (a reply, an event for its user), in the same line."""
        write_now = self._write_now
        if write_now is None or not self._idle() or not write_now(text_frame(frame)):
            self.put(frame)

    def put(self, item: _Item) -> None:
        """Queue behind everything handed over before; a full queue closes the socket."""
        if self.closed:
            return
        queue = self._queue
        if queue is None:
            queue = self._queue = deque()
            self._writer = self._loop.create_task(self._write_queue(queue), context=self._context)
        elif len(queue) >= self.max_queue:
            self.close_too_slow()
            return
        queue.append(item)
        if self._parked is not None:
            self._unpark(write_again=True)

    def _idle(self) -> bool:
        """Nothing queued or being written (the writer, if any, is parked): a frame written
        now keeps its place in line."""
        queue = self._queue
        return not self.closed and (queue is None or (not queue and self._parked is not None))

    # --- for a job the writer runs -------------------------------------------------------

    async def write(self, frame: str, wire: bytes | None = None) -> None:
        """One frame, in the writer's turn: at once if the server can take it now (``wire``:
        the frame already encoded), else through ASGI's ``send``, which waits, or raises."""
        write_now = self._write_now
        if write_now is None or not write_now(text_frame(frame) if wire is None else wire):
            await self._send(_text(frame))

    async def write_message(self, frame: str) -> None:
        """A stored message a job read back (a catch-up's replay), counted as delivered."""
        await self.write(frame)
        self._on_delivered(None)

    # --- lifecycle ------------------------------------------------------------------------

    def close(self, code: int | None, reason: str = "") -> None:
        """Stop writing, and have the socket's owner close it with ``code`` (None: the socket
        is gone already). The first call decides; later ones change nothing."""
        if self.closed:
            return
        self.closed = True
        self.close_code, self.close_reason = code, reason
        writer = self._writer
        if writer is not None and writer is not asyncio.current_task(self._loop):
            writer.cancel()
        self._on_close()

    def close_too_slow(self) -> None:
        """The client does not read what it is sent fast enough: it resumes elsewhere."""
        self.close(CLOSE_TRY_AGAIN_LATER, "too slow: reconnect and resume with since_seq")

    def end_idle_writer(self) -> None:
        """The hub's periodic sweep: a writer parked since the previous sweep ends."""
        if self._parked is not None and self._parked is self._parked_at_last_sweep:
            self._unpark(write_again=False)
        self._parked_at_last_sweep = self._parked

    def _unpark(self, *, write_again: bool) -> None:
        parked = self._parked
        if parked is not None and not parked.done():  # done: cancelled with its writer
            self._parked = None
            parked.set_result(write_again)

    # --- the writer ---------------------------------------------------------------------

    async def _write_queue(self, queue: deque[_Item]) -> None:
        try:
            while not self.closed:  # a job may close the socket from inside the writer
                if queue:
                    await self._write_item(queue.popleft())
                    continue
                parked = self._parked = self._loop.create_future()
                # Told to end, it still writes what came in meanwhile.
                if not await parked and not queue:
                    return
        except OSError:  # the client is gone (ASGI servers raise OSError subclasses)
            self.close(None)
        except RuntimeError as error:  # the socket was closed while frames waited
            log.debug("socket closed under its writer: %s", error)
            self.close(None)
        except Exception:
            log.exception("writing to the socket failed")
            self.close(CLOSE_INTERNAL_ERROR, "internal error")
        finally:
            self._queue = self._writer = self._parked = self._parked_at_last_sweep = None

    async def _write_item(self, item: _Item) -> None:
        if isinstance(item, RoomEvent):
            event = item.event
            await self.write(event.frame, item.wire)
            if event.seq is not None:
                self._on_delivered(event.latency())
        elif isinstance(item, str):
            await self.write(item)
        else:
            await item()
