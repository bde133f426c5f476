"""Figures a cost store hands back for a resolved question: totals and daily rows. Plain data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class Totals:
    current: Decimal
    previous: Decimal
    untagged: Decimal


@dataclass(frozen=True)
class DailyRow:
    day: date
    key: str
    cost: Decimal
