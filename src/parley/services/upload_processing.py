"""The worker's side of uploads: process each file once in effect, and find lost jobs."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from parley.db.engine import SessionFactory
from parley.db.models import Upload, UploadStatus, User
from parley.db.unit_of_work import UnitOfWork
from parley.processing.detect import FileKind
from parley.processing.previews import Preview, RejectedFileError, make_preview
from parley.realtime.publisher import EventPublisher
from parley.repositories.uploads import UploadRepository
from parley.repositories.users import UserRepository
from parley.schemas.uploads import UploadOut
from parley.services.message_factory import MessageFactory
from parley.services.messages import MessageService
from parley.storage import Storage
from parley.tasks.commands import ProcessUpload
from parley.tasks.queue import TaskQueue

__all__ = ["ProcessingLimits", "UploadProcessor", "UploadSweeper", "thumbnail_key"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ProcessingLimits:
    lease: float  # how long a worker's hold on an upload lasts unless renewed
    max_attempts: int
    max_pixels: int


class UploadBusyError(Exception):
    """Another worker holds the upload (a duplicate job): try again once its lease ends."""


class UploadProcessor:
    """Handles ``ProcessUpload``. Idempotent: the upload row is claimed with a lease before
    any work, and a finished upload is never processed again, so a job delivered twice
    leaves one result and one room message."""

    def __init__(
        self,
        session_factory: SessionFactory,
        storage: Storage,
        events: EventPublisher,
        executor: Executor | None,
        limits: ProcessingLimits,
    ) -> None:
        self._session_factory = session_factory
        self._storage = storage
        self._events = events
        self._executor = executor
        self._limits = limits

    async def __call__(self, command: ProcessUpload) -> None:
        upload = await self._claim(command.upload_id)
        if upload is None:
            return
        attempt = upload.attempts
        if attempt > self._limits.max_attempts:
            await self._finish(upload.id, attempt, error=f"gave up after {attempt - 1} attempts")
            return
        renewing = asyncio.create_task(self._keep_claim(upload.id))
        try:
            preview = await self._preview(upload)
        except RejectedFileError as error:
            await self._finish(upload.id, attempt, error=str(error))
            return
        except BaseException:
            await self._release(upload.id)  # let the retry claim it at once
            raise
        finally:
            renewing.cancel()
        await self._finish(upload.id, attempt, preview=preview)

    async def _claim(self, upload_id: uuid.UUID) -> Upload | None:
        """The upload, now ours for one lease; None when it needs nothing more."""
        async with UnitOfWork(self._session_factory) as uow:
            uploads = UploadRepository(uow.session)
            lease = timedelta(seconds=self._limits.lease)
            upload = await uploads.claim(upload_id, datetime.now(UTC), lease)
            if upload is not None:
                return upload
            current = await uploads.get(upload_id)
        if current is not None and current.status is UploadStatus.PROCESSING:
            msg = f"upload {upload_id} is held by another worker"
            raise UploadBusyError(msg)
        log.info("upload %s: already finished (a duplicate job)", upload_id)
        return None

    async def _keep_claim(self, upload_id: uuid.UUID) -> None:
        # Renewed while we work, so that it lapses soon after this worker dies, never before.
        while True:
            await asyncio.sleep(self._limits.lease / 3)
            try:
                async with UnitOfWork(self._session_factory) as uow:
                    await UploadRepository(uow.session).renew(
                        upload_id, datetime.now(UTC) + timedelta(seconds=self._limits.lease)
                    )
            except Exception:
                log.exception("could not renew the lease of upload %s; retrying", upload_id)

    async def _preview(self, upload: Upload) -> Preview:
        data = await self._storage.read(upload.storage_key)
        kind = FileKind(upload.content_type)
        loop = asyncio.get_running_loop()
        preview = await loop.run_in_executor(
            self._executor, make_preview, kind, data, self._limits.max_pixels
        )
        if preview.thumbnail is not None:
            await self._storage.write(thumbnail_key(upload), _once(preview.thumbnail))
        if preview.cleaned is not None:
            await self._storage.write(upload.storage_key, _once(preview.cleaned))
        return preview

    async def _finish(
        self,
        upload_id: uuid.UUID,
        attempt: int,
        *,
        preview: Preview | None = None,
        error: str | None = None,
    ) -> None:
        async with UnitOfWork(self._session_factory) as uow:
            upload = await UploadRepository(uow.session).take_for_finishing(upload_id, attempt)
            if upload is None:
                log.warning("upload %s was taken over before we finished it", upload_id)
                return
            if preview is None:
                upload.status, upload.error = UploadStatus.FAILED, error
            else:
                upload.status, upload.result = UploadStatus.DONE, _result(upload, preview)
                uploader = await _user(uow, upload.uploader_id)
                posted = await MessageService(uow, self._events).append(
                    upload.room_id,
                    MessageFactory.attachment(
                        uploader, _attachment(upload), image=FileKind(upload.content_type).is_image
                    ),
                )
                upload.message_id = posted.message.id
            await uow.session.flush()
            if upload.uploader_id is not None:
                uow.after_commit(
                    partial(self._events.upload, upload.uploader_id, UploadOut.of(upload))
                )

    async def _release(self, upload_id: uuid.UUID) -> None:
        async with UnitOfWork(self._session_factory) as uow:
            upload = await UploadRepository(uow.session).get(upload_id)
            if upload is not None:
                upload.lease_until = None


class UploadSweeper:
    """Finds uploads whose job was lost (Redis restarted empty, a process died before it
    enqueued) and enqueues them again; the processor's claim makes duplicates harmless."""

    def __init__(
        self, session_factory: SessionFactory, queue: TaskQueue, *, stale_after: float = 30.0
    ) -> None:
        self._session_factory = session_factory
        self._queue = queue
        self._stale_after = timedelta(seconds=stale_after)

    async def sweep(self) -> int:
        async with UnitOfWork(self._session_factory) as uow:
            stale = await UploadRepository(uow.session).stale(
                datetime.now(UTC), self._stale_after, limit=500
            )
        for upload_id in stale:
            await self._queue.enqueue(ProcessUpload(upload_id))
        if stale:
            log.warning("re-enqueued %d uploads whose jobs were lost", len(stale))
        return len(stale)

    async def run(self, interval: float = 10.0) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep()
            except Exception:
                log.exception("upload sweep failed; will retry")


def thumbnail_key(upload: Upload) -> str:
    return f"{upload.storage_key}.thumb.webp"


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _result(upload: Upload, preview: Preview) -> dict[str, object]:
    result = dict(preview.result)
    if preview.thumbnail is not None:
        result["thumbnail_url"] = f"/api/uploads/{upload.id}/thumbnail"
    return result


def _attachment(upload: Upload) -> dict[str, object]:
    return {
        "upload_id": str(upload.id),
        "filename": upload.filename,
        "content_type": upload.content_type,
        "size": upload.size,
        "url": f"/api/uploads/{upload.id}/file",
        **(upload.result or {}),
    }


async def _user(uow: UnitOfWork, user_id: uuid.UUID | None) -> User | None:
    return None if user_id is None else await UserRepository(uow.session).get(user_id)
