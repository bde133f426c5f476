"""Tag compliance figures: how much spend carries the tags that answers and allocation depend on."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bot.domain.answers import Group
from bot.domain.money import ZERO, to_cents
from bot.domain.periods import Period


@dataclass(frozen=True)
class TagCompliance:
    period: Period
    currency: str
    total: Decimal
    untagged: Decimal
    previous_total: Decimal
    previous_untagged: Decimal
    top_resources: tuple[Group, ...] = ()  # key: the resource id; name: what people read
    top_services: tuple[tuple[str, Decimal], ...] = ()
    coverage_by_account: tuple[tuple[str, Decimal], ...] = ()  # account -> % of cost with the team tag
    coverage_by_key: dict[str, Decimal] = field(default_factory=dict)  # dimension -> % of cost with that tag

    @property
    def untagged_share(self) -> Decimal:
        return self.untagged / self.total * 100 if self.total else ZERO

    @property
    def previous_share(self) -> Decimal:
        return self.previous_untagged / self.previous_total * 100 if self.previous_total else ZERO

    def to_json(self) -> dict[str, Any]:
        def money(x: Decimal) -> float:
            return float(to_cents(x))

        return {
            "start": self.period.start.isoformat(), "end": self.period.end.isoformat(), "currency": self.currency,
            "total": money(self.total), "untagged_cost": money(self.untagged),
            "untagged_share": float(round(self.untagged_share, 2)),
            "previous_untagged_share": float(round(self.previous_share, 2)),
            "top_untagged_resources": [{"key": g.key, "name": g.label, "cost": money(g.cost)}
                                       for g in self.top_resources],
            "top_untagged_services": [{"key": k, "cost": money(c)} for k, c in self.top_services],
            "coverage_by_account": [{"account": a, "covered_percent": float(round(p, 2))}
                                    for a, p in self.coverage_by_account],
            "coverage_by_key": {k: float(round(v, 2)) for k, v in self.coverage_by_key.items()},
        }
