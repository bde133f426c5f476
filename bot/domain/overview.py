"""A team at a glance (App Home): month to date, budget, forecast, top services, savings waiting."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from bot.domain.answers import Group


@dataclass(frozen=True)
class TeamOverview:
    team: str
    currency: str
    month_to_date: Decimal
    budget: Decimal | None
    forecast: Decimal | None
    top_services: tuple[Group, ...] = ()
    shared_clusters: tuple[Group, ...] = ()  # its share of shared Kubernetes clusters this month, by cluster
    open_recommendations: int = 0
    savings_waiting: Decimal = Decimal(0)  # the open recommendations' monthly savings
    data_through: date | None = None  # the last day the month-to-date figure counts
