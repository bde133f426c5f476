"""Budgets: month to date against a monthly budget, a weekday-aware month-end forecast, the run-out day,
and which thresholds have been crossed. Pure functions over daily totals."""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from bot.domain.changes import Change
from bot.domain.money import ZERO


def _mean(values: list[Decimal]) -> Decimal:
    return sum(values, ZERO) / len(values) if values else ZERO


def weekday_pace(totals: Mapping[date, Decimal], day: date, weeks: int = 4) -> dict[int, Decimal]:
    """Mean spend per weekday over the last `weeks` weeks up to `day` (weekends and weekdays differ)."""
    by_weekday: dict[int, list[Decimal]] = defaultdict(list)
    for i in range(7 * weeks):
        d = day - timedelta(days=i)
        by_weekday[d.weekday()].append(totals.get(d, ZERO))
    return {wd: _mean(v) for wd, v in by_weekday.items()}


def forecast_month_end(totals: Mapping[date, Decimal], day: date, weeks: int = 4) -> Decimal:
    """Month to date (through `day`) plus each remaining day at its weekday's recent mean."""
    first = day.replace(day=1)
    mtd = sum((totals.get(first + timedelta(days=i), ZERO) for i in range((day - first).days + 1)), ZERO)
    pace = weekday_pace(totals, day, weeks)
    last = calendar.monthrange(day.year, day.month)[1]
    return mtd + sum((pace[day.replace(day=n).weekday()] for n in range(day.day + 1, last + 1)), ZERO)


def run_out_day(totals: Mapping[date, Decimal], day: date, budget: Decimal, weeks: int = 4) -> date | None:
    """The first day on which spend reaches the budget at the current pace (possibly already past); None if
    the month ends first."""
    first = day.replace(day=1)
    spent = ZERO
    for i in range((day - first).days + 1):
        d = first + timedelta(days=i)
        spent += totals.get(d, ZERO)
        if spent >= budget:
            return d
    pace = weekday_pace(totals, day, weeks)
    last = calendar.monthrange(day.year, day.month)[1]
    for n in range(day.day + 1, last + 1):
        d = day.replace(day=n)
        spent += pace[d.weekday()]
        if spent >= budget:
            return d
    return None


@dataclass(frozen=True)
class Threshold:
    kind: str  # actual | forecast
    percent: int

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.percent}"

    def label(self) -> str:
        return f"{self.percent}% of the budget{' (forecast)' if self.kind == 'forecast' else ''}"


DEFAULT_THRESHOLDS = (Threshold("actual", 50), Threshold("actual", 80), Threshold("actual", 100),
                      Threshold("forecast", 100))


@dataclass(frozen=True)
class BudgetStatus:
    scope: str
    month: date
    day: date  # last complete day counted
    budget: Decimal | None  # None: the month's figures without a budget to measure them against
    month_to_date: Decimal
    forecast: Decimal
    run_out: date | None
    currency: str = "USD"
    drivers: tuple[Change, ...] = field(default=())

    @property
    def used_percent(self) -> Decimal:
        return self.month_to_date / self.budget * 100 if self.budget else ZERO

    @property
    def forecast_percent(self) -> Decimal:
        return self.forecast / self.budget * 100 if self.budget else ZERO

    def crossed(self, thresholds: tuple[Threshold, ...] = DEFAULT_THRESHOLDS) -> list[Threshold]:
        return [t for t in thresholds
                if (self.used_percent if t.kind == "actual" else self.forecast_percent) >= t.percent]
