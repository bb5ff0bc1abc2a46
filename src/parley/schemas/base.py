from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

__all__ = ["ApiModel", "ErrorBody", "StoredText"]

# Text that Parley keeps. PostgreSQL cannot store NUL (U+0000) in text, so it is refused at
# the door (422) on every database alike, and the OpenAPI document says so.
StoredText = Annotated[str, StringConstraints(pattern=r"^[^\x00]*$")]


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
