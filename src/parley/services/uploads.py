"""Accepting uploads: check the room, recognise the file, store it, record it, enqueue it."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import AsyncIterator
from functools import partial

from parley.core.errors import NotFound, PayloadTooLarge, UnsupportedType
from parley.db.engine import SessionFactory
from parley.db.models import Upload, User
from parley.db.unit_of_work import UnitOfWork
from parley.processing.detect import SNIFF_BYTES, FileKind, detect
from parley.processing.jpeg_metadata import without_metadata
from parley.realtime.publisher import EventPublisher
from parley.repositories.uploads import UploadRepository
from parley.schemas.uploads import UploadOut
from parley.services.access import require_member
from parley.storage import Storage
from parley.tasks.commands import ProcessUpload
from parley.tasks.queue import TaskQueue

__all__ = ["UploadService", "clean_filename"]


class UploadService:
    """Uploads as a request sees them. Each step opens its own short transaction: the body
    streams to storage with no transaction open, so a slow upload never holds a database
    connection (or, on SQLite, the write lock) while its bytes trickle in."""

    def __init__(
        self,
        session_factory: SessionFactory,
        *,
        storage: Storage,
        queue: TaskQueue,
        events: EventPublisher,
        max_bytes: int,
    ) -> None:
        self._session_factory = session_factory
        self._storage = storage
        self._queue = queue
        self._events = events
        self._max_bytes = max_bytes

    async def check_room(self, user: User, room_id: uuid.UUID) -> None:
        """Before any byte of the body is read: only members upload."""
        async with self._session_factory() as session:
            await require_member(session, room_id, user.id)

    async def accept(
        self, user: User, room_id: uuid.UUID, filename: str, chunks: AsyncIterator[bytes]
    ) -> Upload:
        head = await _read_head(chunks)
        kind = detect(head)
        if kind is None:
            raise UnsupportedType("Only images (JPEG, PNG, GIF, WebP), PDFs and text files.")
        upload_id = uuid.uuid4()
        key = f"uploads/{upload_id.hex}"
        body = self._limited(head, chunks)
        if kind is FileKind.JPEG:
            body = without_metadata(body)  # camera and GPS position are stripped, not stored
        size = await self._storage.write(key, body)
        if size == 0:
            await self._storage.delete(key)
            raise UnsupportedType("The file is empty.")
        try:
            return await self._record(
                user.id,
                Upload(
                    id=upload_id,
                    room_id=room_id,
                    uploader_id=user.id,
                    filename=clean_filename(filename),
                    content_type=kind.value,
                    size=size,
                    storage_key=key,
                ),
            )
        except BaseException:
            await self._storage.delete(key)
            raise

    async def _record(self, uploader_id: uuid.UUID, upload: Upload) -> Upload:
        async with UnitOfWork(self._session_factory) as uow:
            # The member may have left while the file streamed in.
            await require_member(uow.session, upload.room_id, uploader_id)
            await UploadRepository(uow.session).add(upload)
            # The row is committed before the job exists: a worker never meets a job whose
            # upload it cannot find, and a lost job is found again from this row. The
            # "processing" event goes out first, so it can never follow "done".
            uow.after_commit(partial(self._events.upload, uploader_id, UploadOut.of(upload)))
            uow.after_commit(partial(self._enqueue, upload.id))
        return upload

    async def _enqueue(self, upload_id: uuid.UUID) -> None:
        # Should this fail (Redis away), the sweeper enqueues the upload again later.
        await self._queue.enqueue(ProcessUpload(upload_id))

    async def _limited(self, head: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        size = len(head)
        if size > self._max_bytes:
            raise PayloadTooLarge(f"Files may be at most {self._max_bytes} bytes.")
        yield head
        async for chunk in rest:
            size += len(chunk)
            if size > self._max_bytes:
                raise PayloadTooLarge(f"Files may be at most {self._max_bytes} bytes.")
            yield chunk

    async def get(self, user: User, upload_id: uuid.UUID) -> Upload:
        async with self._session_factory() as session:
            upload = await UploadRepository(session).visible_to(upload_id, user.id)
        if upload is None:
            raise NotFound("No such upload.")
        return upload


async def _read_head(chunks: AsyncIterator[bytes]) -> bytes:
    head = b""
    async for chunk in chunks:
        head += chunk
        if len(head) >= SNIFF_BYTES:
            break
    return head


_UNSAFE = re.compile(r"[^\w .()\[\]-]+")


def clean_filename(name: str) -> str:
    """A display name from the client's: no directories, no control characters, bounded.
    It is only ever shown; storage keys are Parley's own."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFC", base)
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = _UNSAFE.sub("_", base).strip(" .")
    return base[:200] or "file"
