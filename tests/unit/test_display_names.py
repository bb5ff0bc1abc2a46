"""Display names cannot carry the controls that make one name look like another."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from parley.schemas.users import DisplayName

display_name: TypeAdapter[str] = TypeAdapter(DisplayName)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        # RIGHT-TO-LEFT OVERRIDE: "\u202eecila" displays as "alice".
        ("\u202eecila", "ecila"),
        # An isolate and a mark around a name, and an embedding left open.
        ("\u2066Bob\u2069 \u200f", "Bob"),
        ("Eve\u202b and friends", "Eve and friends"),
        ("\u061cZoë", "Zoë"),
        # Text in a right-to-left script is a name like any other, and emoji sequences keep
        # their joiners.
        ("שלום", "שלום"),
        ("👩\u200d💻 Ada", "👩\u200d💻 Ada"),
    ],
)
def test_bidi_controls_are_taken_out_of_display_names(given: str, kept: str) -> None:
    assert display_name.validate_python(given) == kept


def test_a_display_name_of_controls_alone_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least one visible character"):
        display_name.validate_python("\u202e\u2066 \u200f")
