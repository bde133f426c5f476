"""Savings waiting: the open recommendations of a team (or of everyone) with their monthly savings, largest
first, and the total — what `/cost savings [TEAM]` answers. Pure data over the recommendations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.domain.money import ZERO, round_to_total, to_cents
from bot.domain.recommendations import Recommendation


@dataclass(frozen=True)
class SavingsRow:
    recommendation: Recommendation
    monthly_savings: Decimal | None  # in cents, rounded with the others to add up to the total; None: unknown


@dataclass(frozen=True)
class SavingsWaiting:
    team: str | None  # None: every team (and unowned resources)
    rows: tuple[SavingsRow, ...]
    total: Decimal  # in cents: the sum of the rows' figures

    @property
    def unknown(self) -> int:
        """Open recommendations whose saving is not known (listed last, not in the total)."""
        return sum(1 for r in self.rows if r.monthly_savings is None)

    def to_json(self) -> dict[str, Any]:
        """`costbot ask "savings [TEAM]" --json`: money in cents as numbers, as every other `--json`."""
        return {
            "team": self.team,
            "total": float(self.total),
            "recommendations": [{
                "name": r.recommendation.name, "resource_key": r.recommendation.resource_key,
                "kind": r.recommendation.kind, "team": r.recommendation.team,
                "type": r.recommendation.resource_type, "target_type": r.recommendation.target_type,
                "reason": r.recommendation.reason,
                "monthly_savings": None if r.monthly_savings is None else float(r.monthly_savings),
            } for r in self.rows],
        }


def savings_waiting(team: str | None, recs: Sequence[Recommendation]) -> SavingsWaiting:
    """Largest saving first (ties by name), unknown savings last; figures rounded to cents so that they add up
    exactly to the total shown (largest remainder)."""
    known = {i: r.monthly_savings for i, r in enumerate(recs) if r.monthly_savings is not None}
    cents = round_to_total(known)
    order = sorted(range(len(recs)), key=lambda i: (recs[i].monthly_savings is None,
                                                    -(recs[i].monthly_savings or ZERO), recs[i].name.lower(), i))
    rows = tuple(SavingsRow(recs[i], cents.get(i)) for i in order)
    return SavingsWaiting(team, rows, to_cents(sum(known.values(), ZERO)))
