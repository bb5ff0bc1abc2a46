from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import sqlite

from parley.db.types import UTCDateTime


def test_aware_datetimes_are_stored_in_utc_and_read_back_aware() -> None:
    column = UTCDateTime()
    dialect = sqlite.dialect()
    paris = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=1)))
    stored = column.process_bind_param(paris, dialect)
    assert stored == datetime(2026, 1, 1, 11, tzinfo=UTC)
    naive_from_sqlite = datetime(2026, 1, 1, 11)  # noqa: DTZ001
    assert column.process_result_value(naive_from_sqlite, dialect) == stored


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(datetime(2026, 1, 1), sqlite.dialect())  # noqa: DTZ001
