from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

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

    async def take_for_finishing(self, upload_id: uuid.UUID, attempt: int) -> Upload | None:
        """Lock the upload for writing its outcome, if our claim (``attempt``) still holds it:
        a worker whose lease lapsed and was taken over must not finish it a second time."""
        statement = (
            update(Upload)
            .where(
                Upload.id == upload_id,
                Upload.status == UploadStatus.PROCESSING,
                Upload.attempts == attempt,
            )
            .values(lease_until=None)
            .returning(Upload)
        )
        return (await self.session.scalars(statement)).one_or_none()

    async def renew(self, upload_id: uuid.UUID, lease_until: datetime) -> None:
        await self.session.execute(
            update(Upload)
            .where(Upload.id == upload_id, Upload.status == UploadStatus.PROCESSING)
            .values(lease_until=lease_until)
            .execution_options(synchronize_session=False)
        )

    async def stale(self, now: datetime, older_than: timedelta, limit: int) -> Sequence[uuid.UUID]:
        """Uploads still processing whose job was enqueued long ago and that no worker holds:
        their queue entry may be lost. Marks them enqueued now, so one sweeper takes each."""
        cutoff = now - older_than
        waiting = (
            select(Upload.id)
            .where(
                Upload.status == UploadStatus.PROCESSING,
                Upload.enqueued_at < cutoff,
                or_(Upload.lease_until.is_(None), Upload.lease_until < now),
            )
            .order_by(Upload.created_at)
            .limit(limit)
        )
        statement = (
            update(Upload)
            # Repeated outside the subquery: PostgreSQL re-checks it on a row another
            # sweeper just updated, so two sweepers never both take one upload.
            .where(Upload.id.in_(waiting), Upload.enqueued_at < cutoff)
            .values(enqueued_at=now)
            .returning(Upload.id)
            .execution_options(synchronize_session=False)
        )
        return (await self.session.scalars(statement)).all()
