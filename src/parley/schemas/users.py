from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints
from pydantic.config import JsonDict

from parley.schemas.base import ApiModel, StoredText

__all__ = ["USER_EXAMPLE", "DisplayName", "Password", "UserOut", "Username"]

Username = Annotated[
    str,
    StringConstraints(min_length=3, max_length=32, pattern=r"^[A-Za-z0-9_.\-]+$"),
    # Usernames are unique regardless of case: we keep and compare the lower-cased form.
    AfterValidator(str.lower),
    Field(examples=["alice"], description="3 to 32 characters of a-z 0-9 _ . - (case-insensitive)"),
]
Password = Annotated[
    str,
    StringConstraints(min_length=8, max_length=128),
    Field(examples=["correct horse battery"]),
]
# The controls that reorder text around them (embeddings, overrides, isolates, marks): in a
# name they can make "alice" display as someone else's name, or reverse what follows it.
_BIDI_CONTROLS = dict.fromkeys(
    [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)


def _without_bidi_controls(name: str) -> str:
    cleaned = name.translate(_BIDI_CONTROLS).strip()
    if not cleaned:
        msg = "a display name needs at least one visible character"
        raise ValueError(msg)
    return cleaned


DisplayName = Annotated[
    StoredText,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(_without_bidi_controls),
]


USER_EXAMPLE: JsonDict = {
    "id": "4f0d591b-32cb-4baa-bfb8-25bc592c3ad8",
    "username": "alice",
    "display_name": "Alice",
    "created_at": "2026-11-26T14:00:00Z",
}


class UserOut(ApiModel):
    model_config = ConfigDict(json_schema_extra={"examples": [USER_EXAMPLE]})

    id: uuid.UUID
    username: str
    display_name: str
    created_at: datetime
