"""The worker's side of uploads: process each file once in effect, and find lost jobs."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from parley.db.engine import SessionFactory
from parley.db.message_record import MessageRecord
from parley.db.models import Upload, UploadStatus
from parley.db.unit_of_work import UnitOfWork
from parley.processing.detect import FileKind
from parley.processing.in_place import preview_in_place
from parley.processing.pool import ProcessingPool
from parley.processing.previews import PreviewSummary, RejectedFileError, make_preview
from parley.realtime.publisher import EventPublisher
from parley.repositories.upload_jobs import Claim, UploadJobs
from parley.repositories.uploads import UploadRepository
from parley.schemas.uploads import UploadOut
from parley.services.message_factory import MessageFactory
from parley.storage import Storage
from parley.tasks.commands import ProcessUpload
from parley.tasks.deadline import paused
from parley.tasks.queue import TaskQueue

__all__ = [
    "ProcessingLimits",
    "UploadBusyError",
    "UploadProcessor",
    "UploadSweeper",
    "thumbnail_key",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")


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
        jobs: UploadJobs,
        storage: Storage,
        events: EventPublisher,
        pool: ProcessingPool | None,
        limits: ProcessingLimits,
    ) -> None:
        self._jobs = jobs
        self._storage = storage
        self._events = events
        self._pool = pool
        self._limits = limits

    async def __call__(self, command: ProcessUpload) -> None:
        claim = await self._claim(command.upload_id)
        if claim is None:
            return
        upload = claim.upload
        if upload.attempts > self._limits.max_attempts:
            await self._fail(upload, f"gave up after {upload.attempts - 1} attempts")
            return
        renewing = asyncio.create_task(self._keep_claim(upload.id))
        try:
            preview = await self._preview(upload)
        except RejectedFileError as error:
            await self._fail(upload, str(error))
            return
        except BaseException:
            await self._jobs.release(upload, datetime.now(UTC))  # for the retry, at once
            raise
        finally:
            renewing.cancel()
        await self._finish(claim, preview)

    async def _claim(self, upload_id: uuid.UUID) -> Claim | None:
        """The upload, now ours for one lease; None when it needs nothing more."""
        now = datetime.now(UTC)
        claim = await self._jobs.claim(upload_id, now, now + timedelta(seconds=self._limits.lease))
        if claim is not None:
            return claim
        if await self._jobs.status(upload_id) is UploadStatus.PROCESSING:
            msg = f"upload {upload_id} is held by another worker"
            raise UploadBusyError(msg)
        log.info("upload %s: already finished (a duplicate job)", upload_id)
        return None

    async def _keep_claim(self, upload_id: uuid.UUID) -> None:
        # Renewed while we work, so that it lapses soon after this worker dies, never before.
        while True:
            await asyncio.sleep(self._limits.lease / 3)
            try:
                until = datetime.now(UTC) + timedelta(seconds=self._limits.lease)
                await self._jobs.renew(upload_id, until)
            except Exception:
                log.exception("could not renew the lease of upload %s; retrying", upload_id)

    async def _preview(self, upload: Upload) -> PreviewSummary:
        kind, max_pixels = FileKind(upload.content_type), self._limits.max_pixels
        original = self._storage.local_path(upload.storage_key)
        thumbnail = self._storage.local_path(thumbnail_key(upload))
        if original is not None and thumbnail is not None:
            # On a local disk the processing process reads and writes the files itself:
            # megabytes neither cross its pipe nor pass through this event loop.
            return await self._process(preview_in_place, kind, original, thumbnail, max_pixels)
        data = await self._storage.read(upload.storage_key)
        preview = await self._process(make_preview, kind, data, max_pixels)
        if preview.thumbnail is not None:
            await self._storage.write(thumbnail_key(upload), _once(preview.thumbnail))
        if preview.cleaned is not None:
            await self._storage.write(upload.storage_key, _once(preview.cleaned))
        return preview.summary

    async def _process(self, function: Callable[..., _T], *args: object) -> _T:
        if self._pool is None:  # no processing pool (tests): a thread, without a CPU limit
            return await asyncio.to_thread(function, *args)
        # The pool's limits decide for the file, not the job's clock: on a loaded host that
        # would run out first, and a file to reject once would be retried as if unlucky.
        with paused():
            return await self._pool.run(function, *args)

    async def _finish(self, claim: Claim, preview: PreviewSummary) -> None:
        """The outcome recorded and the file posted in its room, both or neither: if our
        claim lapsed and another worker took the upload over, it is that worker's."""
        upload = claim.upload
        result = _result(upload, preview)
        attachment = _attachment(upload, result, preview.size)
        image = FileKind(upload.content_type).is_image
        message = MessageFactory.attachment(claim.uploader, attachment, image=image)
        recorded = await self._jobs.finish(upload, result, message, size=preview.size)
        if recorded is None:
            _log_taken_over(upload)
            return
        finished, posted = recorded
        await self._announce(finished, posted)

    async def _fail(self, upload: Upload, error: str) -> None:
        finished = await self._jobs.fail(upload, error)
        if finished is None:
            _log_taken_over(upload)
            return
        await self._discard_files(finished)
        await self._announce(finished, None)

    async def _discard_files(self, upload: Upload) -> None:
        """A failed upload's bytes are damaged or hostile, and may still carry their metadata:
        they are never served, and go once the failure is recorded (the row stays, with its
        reason). Should that fail, the file stays behind, unreachable through the API."""
        try:
            await self._storage.delete(upload.storage_key)
            await self._storage.delete(thumbnail_key(upload))  # from an attempt that crashed
        except Exception:
            log.exception("could not delete the files of failed upload %s", upload.id)

    async def _announce(self, finished: Upload, posted: MessageRecord | None) -> None:
        # The outcome is committed whatever happens here: a failed publish is logged, and
        # clients recover the message from history and the upload from its status.
        try:
            if posted is not None:
                await self._events.message_created(posted)
            if finished.uploader_id is not None:
                await self._events.upload(finished.uploader_id, UploadOut.of(finished))
        except Exception:
            log.exception("announcing the outcome of upload %s failed", finished.id)


class UploadSweeper:
    """Finds uploads whose job was lost (Redis restarted empty, a process died before it
    enqueued) and enqueues them again. Uploads waiting behind busy workers are not lost,
    however long they wait (see ``UploadRepository.take_lost``); should a duplicate slip
    through all the same, the processor's claim makes it harmless."""

    def __init__(
        self, session_factory: SessionFactory, queue: TaskQueue, *, stale_after: float = 30.0
    ) -> None:
        self._session_factory = session_factory
        self._queue = queue
        self._stale_after = timedelta(seconds=stale_after)

    async def sweep(self) -> int:
        async with UnitOfWork(self._session_factory) as uow:
            lost = await UploadRepository(uow.session).take_lost(
                datetime.now(UTC), self._stale_after, limit=500
            )
        for upload_id in lost:
            await self._queue.enqueue(ProcessUpload(upload_id))
        if lost:
            log.warning("re-enqueued %d uploads whose jobs were lost", len(lost))
        return len(lost)

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


def _result(upload: Upload, preview: PreviewSummary) -> dict[str, Any]:
    result = dict(preview.result)
    if preview.has_thumbnail:
        result["thumbnail_url"] = f"/api/uploads/{upload.id}/thumbnail"
    return result


def _attachment(upload: Upload, result: dict[str, Any], size: int) -> dict[str, Any]:
    return {
        "upload_id": str(upload.id),
        "filename": upload.filename,
        "content_type": upload.content_type,
        "size": size,
        "url": f"/api/uploads/{upload.id}/file",
        **result,
    }


def _log_taken_over(upload: Upload) -> None:
    # Our claim lapsed (a stall, a pause) and another worker finished the upload instead.
    log.warning("upload %s was taken over before we finished it", upload.id)
