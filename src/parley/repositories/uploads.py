from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select, update

from parley.db.models import Membership, Upload, UploadStatus
from parley.repositories.base import Repository

__all__ = ["UploadRepository"]


class UploadRepository(Repository[Upload]):
    model = Upload

    async def visible_to(self, upload_id: uuid.UUID, user_id: uuid.UUID) -> Upload | None:
        """The upload if the user is a member of its room."""
        statement = (
            select(Upload)
            .join(Membership, Membership.room_id == Upload.room_id)
            .where(Upload.id == upload_id, Membership.user_id == user_id)
        )
        return await self.session.scalar(statement)

    async def claim(self, upload_id: uuid.UUID, now: datetime, lease: timedelta) -> Upload | None:
        """Take the upload for processing until ``now + lease``; None when it is finished
        or another worker holds it (a duplicate job, which then has nothing to do)."""
        statement = (
            update(Upload)
            .where(
                Upload.id == upload_id,
                Upload.status == UploadStatus.PROCESSING,
                or_(Upload.lease_until.is_(None), Upload.lease_until < now),
            )
            .values(attempts=Upload.attempts + 1, lease_until=now + lease)
            .returning(Upload)
        )
        return (await self.session.scalars(statement)).one_or_none()

    async def finish(
        self,
        upload_id: uuid.UUID,
        attempt: int,
        outcome: UploadStatus,
        *,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        message_id: uuid.UUID | None = None,
    ) -> Upload | None:
        """Record the outcome, if our claim (``attempt``) still holds the upload; None when
        it does not: a worker whose lease lapsed and was taken over must not finish it a
        second time. Checking the claim and writing the outcome are one statement."""
        statement = (
            update(Upload)
            .where(
                Upload.id == upload_id,
                Upload.status == UploadStatus.PROCESSING,
                Upload.attempts == attempt,
            )
            .values(
                status=outcome, result=result, error=error, message_id=message_id, lease_until=None
            )
            .returning(Upload)
        )
        return (await self.session.scalars(statement)).one_or_none()

    async def release(self, upload_id: uuid.UUID, attempt: int, now: datetime) -> None:
        """Let go of our claim (``attempt``) at once, for the job's retry to take it up. The
        lease ends ``now`` rather than vanishing: the job went back to the queue then."""
        await self.session.execute(
            update(Upload)
            .where(
                Upload.id == upload_id,
                Upload.status == UploadStatus.PROCESSING,
                Upload.attempts == attempt,
            )
            .values(lease_until=now)
            .execution_options(synchronize_session=False)
        )

    async def renew(self, upload_id: uuid.UUID, lease_until: datetime) -> None:
        await self.session.execute(
            update(Upload)
            .where(Upload.id == upload_id, Upload.status == UploadStatus.PROCESSING)
            .values(lease_until=lease_until)
            .execution_options(synchronize_session=False)
        )

    async def take_lost(self, now: datetime, waited: timedelta, limit: int) -> Sequence[uuid.UUID]:
        """Uploads whose job is lost (Redis restarted empty, a process died between its
        commit and its enqueue), marked enqueued ``now`` so that one sweeper takes each.

        An upload still processing and held by no worker has been back in the queue since
        it was enqueued or since its last holder let go (released it, or died and let its
        lease lapse), whichever is later. The queue hands jobs out oldest first, so one that
        is only waiting is behind the uploads workers hold now. Lost, then, is an upload
        that has waited longer than ``waited`` with no held upload enqueued before it: none
        is held (the queue ran dry, or Redis forgot it) or the queue went past it. A backlog
        waiting behind busy workers is not lost, however long it waits.
        """
        back_in_queue = case(
            (Upload.lease_until > Upload.enqueued_at, Upload.lease_until),
            else_=Upload.enqueued_at,
        )
        oldest_held = (
            select(func.min(Upload.enqueued_at))
            .where(Upload.status == UploadStatus.PROCESSING, Upload.lease_until >= now)
            .scalar_subquery()
        )
        cutoff = now - waited
        lost = (
            select(Upload.id)
            .where(
                Upload.status == UploadStatus.PROCESSING,
                or_(Upload.lease_until.is_(None), Upload.lease_until < now),
                back_in_queue < cutoff,
                or_(oldest_held.is_(None), back_in_queue < oldest_held),
            )
            .order_by(Upload.created_at)
            .limit(limit)
        )
        statement = (
            update(Upload)
            # Repeated outside the subquery: PostgreSQL re-checks it on a row another
            # sweeper just updated, so two sweepers never both take one upload.
            .where(Upload.id.in_(lost), back_in_queue < cutoff)
            .values(enqueued_at=now)
            .returning(Upload.id)
            .execution_options(synchronize_session=False)
        )
        return (await self.session.scalars(statement)).all()
