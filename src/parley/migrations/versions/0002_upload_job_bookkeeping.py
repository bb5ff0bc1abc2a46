"""Upload job bookkeeping: when the job was enqueued, attempts, and the worker's lease.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parley.db.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.add_column(sa.Column("enqueued_at", parley.db.types.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("lease_until", parley.db.types.UTCDateTime(), nullable=True))
    op.execute("UPDATE uploads SET enqueued_at = created_at, attempts = 0")
    with op.batch_alter_table("uploads") as batch:
        batch.alter_column(
            "enqueued_at", existing_type=parley.db.types.UTCDateTime(), nullable=False
        )
        batch.alter_column("attempts", existing_type=sa.Integer(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("attempts")
        batch.drop_column("enqueued_at")
