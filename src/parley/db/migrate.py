"""Applying the Alembic migrations from code (``parley migrate`` and the embedded ``serve``),
and telling whether a database's schema is the one this code needs."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["SchemaState", "alembic_config", "schema_state", "upgrade_to_head"]


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", "parley:migrations")
    return config


async def upgrade_to_head(engine: AsyncEngine) -> None:
    def upgrade(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with engine.begin() as connection:
        await connection.run_sync(upgrade)


@dataclass(frozen=True, slots=True)
class SchemaState:
    found: str | None  # the database's revision; None: never migrated
    head: str  # the revision this code needs

    @property
    def current(self) -> bool:
        return self.found == self.head

    def describe(self) -> str:
        if self.current:
            return f"at the migration head ({self.head})"
        found = "has no schema" if self.found is None else f"is at revision {self.found}"
        return f"the database {found}; this Parley needs revision {self.head}"


@cache
def _head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None  # noqa: S101  (the package ships its migrations)
    return head


async def schema_state(engine: AsyncEngine) -> SchemaState:
    def found(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return SchemaState(found=await connection.run_sync(found), head=_head_revision())
