from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

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
