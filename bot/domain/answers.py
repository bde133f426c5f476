"""What a cost question returns: plain data that renderers (terminal, JSON, Slack, charts) turn into output."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from bot.domain.money import percent_change
from bot.domain.periods import Period
from bot.domain.query import Query


@dataclass(frozen=True)
class Group:
    key: str
    cost: Decimal


@dataclass(frozen=True)
class CostAnswer:
    query: Query
    scope: dict[str, object]
    period: Period
    metric: str
    currency: str
    total: Decimal
    previous_total: Decimal
    untagged_cost: Decimal
    groups: tuple[Group, ...] = ()
    dimension: str | None = None
    data_through: date | None = None
    # with allocation rules: the team's own cost and its part of shared costs (total = direct + shared)
    direct_cost: Decimal | None = None
    shared_cost: Decimal | None = None
    group_split: dict[str, tuple[Decimal, Decimal]] | None = None  # by team: key -> (direct, shared)

    @property
    def change(self) -> Decimal:
        return self.total - self.previous_total

    @property
    def change_percent(self) -> Decimal | None:
        return percent_change(self.total, self.previous_total)

    @property
    def untagged_share(self) -> Decimal | None:
        if self.total == 0:
            return None
        return self.untagged_cost / self.total * 100

    @property
    def scope_label(self) -> str:
        return self.query.scope_label()


@dataclass(frozen=True)
class ChartSeries:
    """Daily spend stacked by `keys` (largest first, then "(other)"), for one answer."""

    title: str
    currency: str
    days: tuple[date, ...]
    keys: tuple[str, ...]
    values: dict[str, tuple[Decimal, ...]] = field(default_factory=dict)
