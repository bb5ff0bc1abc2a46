"""What system messages record; their ``attachment["event"]``, as clients read it."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["SystemEvent"]


class SystemEvent(StrEnum):
    JOINED = "joined"
    LEFT = "left"
    RENAMED = "renamed"
