from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["ApiModel", "ErrorBody"]


class ApiModel(BaseModel):
    """Base for every schema: unknown fields are refused, ORM objects are readable."""

    model_config = ConfigDict(extra="forbid", from_attributes=True)


class ErrorBody(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"error": "not_found", "detail": "No such room."}]}
    )

    error: str
    detail: str
    fields: list[dict[str, object]] | None = None
