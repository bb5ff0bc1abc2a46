"""Documented error responses, for the routers' OpenAPI descriptions."""

from __future__ import annotations

from typing import Any, TypeAlias

from parley.schemas.base import ErrorBody

__all__ = ["AUTHENTICATED", "Responses", "error"]

Responses: TypeAlias = dict[int | str, dict[str, Any]]


def error(status: int, description: str) -> Responses:
    """One documented error status; combine several with ``|``."""
    return {status: {"model": ErrorBody, "description": description}}


AUTHENTICATED = error(401, "Missing, invalid or expired access token (`unauthorized`)")
