"""The unit of work: one transaction, and what must happen only once it has committed."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self, TypeAlias

from sqlalchemy.ext.asyncio import AsyncSession

from parley.core.errors import ParleyError
from parley.db.engine import SessionFactory

__all__ = ["AfterCommit", "UnitOfWork"]

log = logging.getLogger(__name__)

AfterCommit: TypeAlias = Callable[[], Awaitable[None]]


class UnitOfWork:
    """Commits on success, rolls back on error; services only flush.

    Publishing an event or enqueuing a job from inside a transaction that later rolls
    back would announce something that never happened, so services register those as
    after-commit hooks: run in order once the commit succeeds, dropped on rollback.

    A ``read_only`` unit of work (a ``GET`` request's) has nothing to commit: it gives its
    connection back, and refuses to end with changes or hooks, which it would otherwise drop.
    """

    def __init__(self, session_factory: SessionFactory, *, read_only: bool = False) -> None:
        self._session_factory = session_factory
        self._read_only = read_only
        self._hooks: list[AfterCommit] = []
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            msg = "the unit of work is not open"
            raise RuntimeError(msg)
        return self._session

    def after_commit(self, hook: AfterCommit) -> None:
        self._hooks.append(hook)

    async def __aenter__(self) -> Self:
        # The transaction begins with the first statement: until then a repository may still
        # choose a self-committing single statement (see MessageRepository.append_as_member).
        self._session = self._session_factory()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        session, self._session = self.session, None
        hooks, self._hooks = self._hooks, []
        if self._read_only:
            changed = bool(hooks or session.new or session.dirty or session.deleted)
            await session.close()
            if changed and exc is None:
                msg = "a read-only unit of work was given changes to commit"
                raise RuntimeError(msg)
            return
        commit = exc is None or (isinstance(exc, ParleyError) and exc.keeps_changes)
        # A session never used (a send's statement commits by itself) has nothing to commit
        # and no connection to give back: each call would still cost a trip through the
        # greenlet bridge.
        if session.in_transaction() or session.new:
            try:
                if commit:
                    await session.commit()
                else:
                    await session.rollback()
            finally:
                await session.close()
        if commit:
            await _run_hooks(hooks)


async def _run_hooks(hooks: list[AfterCommit]) -> None:
    # The data is committed whatever a hook does: a failed publish is logged, and readers
    # recover the event from the database (every gap is filled from there).
    for hook in hooks:
        try:
            await hook()
        except Exception:
            log.exception("after-commit hook failed")
