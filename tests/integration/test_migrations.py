"""The migrations build exactly the models' schema, on PostgreSQL and on SQLite, both ways."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from parley.db.base import Base
from parley.db.engine import create_engine
from parley.db.migrate import alembic_config

pytestmark = pytest.mark.both_databases  # the database is what these test


async def test_migrations_match_the_models_and_downgrade_cleanly(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1)

    def differences(connection: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))

    def cycle(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
        command.upgrade(config, "head")

    try:
        async with engine.begin() as connection:
            assert await connection.run_sync(differences) == []
            await connection.run_sync(cycle)
            assert await connection.run_sync(differences) == []
    finally:
        await engine.dispose()
