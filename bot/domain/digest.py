"""A digest: what a team's channel is told each morning (or week). Plain data for the renderers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from bot.domain.anomalies import Anomaly
from bot.domain.changes import Change
from bot.domain.compliance import TagCompliance


@dataclass(frozen=True)
class DigestChart:
    """Daily spend stacked by `keys`, a 7-day moving average and the budget's daily pace."""

    title: str
    currency: str
    days: tuple[date, ...]
    keys: tuple[str, ...]
    values: dict[str, tuple[Decimal, ...]]
    moving_average: tuple[Decimal | None, ...]
    budget_per_day: Decimal | None = None
    anomaly_days: tuple[date, ...] = ()
    metric: str = "EffectiveCost"
    data_through: date | None = None

    @property
    def total(self) -> Decimal:
        return sum((v for values in self.values.values() for v in values), Decimal(0))

    def key_total(self, key: str) -> Decimal:
        return sum(self.values.get(key, ()), Decimal(0))


@dataclass(frozen=True)
class Digest:
    scope_label: str
    cadence: str  # daily | weekly
    currency: str
    day: date  # the last complete day covered
    # daily
    yesterday: Decimal = Decimal(0)
    average_7d: Decimal = Decimal(0)
    same_weekday_last_week: Decimal = Decimal(0)
    month_to_date: Decimal = Decimal(0)
    budget: Decimal | None = None
    forecast: Decimal | None = None
    movers: tuple[Change, ...] = ()
    untagged_share: Decimal | None = None
    shared_clusters: tuple[tuple[str, Decimal], ...] = ()  # month to date on shared clusters, by cluster
    # weekly
    week_start: date | None = None
    week_total: Decimal = Decimal(0)
    previous_week_total: Decimal = Decimal(0)
    by_project: tuple[Change, ...] = ()
    by_model: tuple[Change, ...] = ()
    experiments: tuple[Change, ...] = ()  # the most expensive experiments of the week (the experiment tag)
    # sections that appear when there is something to say
    savings_waiting: Decimal | None = None  # open recommendations' monthly savings (team and org digests)
    schedule_savings: Decimal | None = None  # weekly: what off-hours schedules saved over the week (team and org)
    anomalies: tuple[Anomaly, ...] = ()  # the last week's anomalies (team and org digests)
    compliance: TagCompliance | None = field(default=None, compare=False)  # weekly digests
    chart: DigestChart | None = field(default=None, compare=False)
    data_through: date | None = None
