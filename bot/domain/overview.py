"""A team at a glance (App Home): month to date, budget, forecast, top services."""

from __future__ import annotations

from dataclasses import dataclass
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
    open_recommendations: int = 0
