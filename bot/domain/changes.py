"""A key's spend now against before: a top mover, a driver of a budget, a row of a weekly breakdown."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.domain.money import percent_change


@dataclass(frozen=True)
class Change:
    """A key's spend now against before: a top mover (with its dimension) or a row of a weekly breakdown."""

    key: str
    current: Decimal
    previous: Decimal
    dimension: str = ""  # service | project | resource, for movers
    name: str | None = None  # what people read when the key is an id (a resource's name)

    @property
    def label(self) -> str:
        return self.name or self.key

    @property
    def change(self) -> Decimal:
        return self.current - self.previous

    @property
    def change_percent(self) -> Decimal | None:
        return percent_change(self.current, self.previous)

