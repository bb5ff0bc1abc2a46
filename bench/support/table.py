"""Results printed as Markdown tables, ready to paste into docs/performance.md."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["Table", "cell"]


def cell(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)

    def add(self, *values: object) -> None:
        if len(values) != len(self.columns):
            msg = f"{self.title}: {len(values)} values for {len(self.columns)} columns"
            raise ValueError(msg)
        self.rows.append([cell(value) for value in values])

    def render(self) -> str:
        widths = [
            max(len(column), *(len(row[index]) for row in self.rows))
            for index, column in enumerate(self.columns)
        ]

        def line(values: list[str]) -> str:
            return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

        separator = "| " + " | ".join("-" * width for width in widths) + " |"
        body = [line(row) for row in self.rows]
        return "\n".join([f"### {self.title}", "", line(self.columns), separator, *body, ""])
