"""docs/operations.md lists exactly the settings the settings class reads."""

from __future__ import annotations

import re
from pathlib import Path

from parley.core.settings import Settings

OPERATIONS = Path(__file__).parents[2] / "docs" / "operations.md"


def test_every_setting_is_documented_and_nothing_else() -> None:
    documented = set(re.findall(r"^\| `(PARLEY_[A-Z_]+)` \|", OPERATIONS.read_text(), re.MULTILINE))
    declared = {f"PARLEY_{name.upper()}" for name in Settings.model_fields}
    assert documented == declared
