"""Shared-cost allocation: rules spread a selected cost over teams, to the cent.

Amounts are split with largest-remainder rounding: every part is a whole number of cents, the parts add up to
the (cent-rounded) amount exactly, and no part is negative for non-negative input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from bot.domain.money import ZERO, round_to_total, to_cents

UNALLOCATED = "(unallocated)"


def largest_remainder(amount: Decimal, weights: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Split `amount` (rounded to the cent) over the keys in proportion to `weights`, rounded by
    `round_to_total` (largest remainder).

    Zero or missing weights everywhere split evenly. Negative amounts (credits) split the same way, mirrored.
    """
    keys = sorted(weights)
    if not keys:
        return {}
    whole = to_cents(amount)
    w = {k: max(weights[k], ZERO) for k in keys}
    weight_sum = sum(w.values(), ZERO)
    if weight_sum == 0:
        w = {k: Decimal(1) for k in keys}
        weight_sum = Decimal(len(keys))
    parts = round_to_total({k: abs(whole) * w[k] / weight_sum for k in keys}, abs(whole))
    return {k: -parts[k] if whole < 0 else parts[k] for k in keys}


@dataclass(frozen=True)
class SharedPart:
    """One team's share of one rule's cost for one service."""

    rule: str
    service: str
    team: str
    cost: Decimal


@dataclass(frozen=True)
class Allocation:
    """A period's cost split into direct (per team), shared (per rule, service and team) and unallocated."""

    direct: dict[str, Decimal]
    shared: tuple[SharedPart, ...] = ()
    unallocated: Decimal = ZERO
    rule_totals: dict[str, Decimal] = field(default_factory=dict)

    def shared_by_team(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for part in self.shared:
            out[part.team] = out.get(part.team, ZERO) + part.cost
        return out

    def total_for(self, team: str) -> Decimal:
        return self.direct.get(team, ZERO) + self.shared_by_team().get(team, ZERO)

    def explain(self, team: str) -> list[tuple[str, Decimal]]:
        """A team's shared cost rule by rule."""
        out: dict[str, Decimal] = {}
        for part in self.shared:
            if part.team == team:
                out[part.rule] = out.get(part.rule, ZERO) + part.cost
        return sorted(out.items(), key=lambda kv: (-kv[1], kv[0]))


def spread(rule: str, by_service: Mapping[str, Decimal], weights: Mapping[str, Decimal]) -> list[SharedPart]:
    """A rule's cost, service by service, split over the teams by `weights`."""
    parts = []
    for service in sorted(by_service):
        for team, cost in largest_remainder(by_service[service], weights).items():
            parts.append(SharedPart(rule, service, team, cost))
    return parts


def weights_for(method: str, targets: Sequence[str], direct: Mapping[str, Decimal],
                fixed: Mapping[str, Decimal] | None = None, usage: Mapping[str, Decimal] | None = None
                ) -> dict[str, Decimal]:
    if method == "even":
        return {t: Decimal(1) for t in targets}
    if method == "weights":
        return {t: Decimal((fixed or {}).get(t, ZERO)) for t in targets}
    if method == "usage":
        return {t: Decimal((usage or {}).get(t, ZERO)) for t in targets}
    return {t: max(direct.get(t, ZERO), ZERO) for t in targets}


@dataclass(frozen=True)
class ShowbackRow:
    """One line of the showback export: a team's direct cost by project and service, its part of a rule's shared
    cost by service, or what no team holds (kind `unallocated`, under the same group name `by team` shows)."""

    team: str
    project: str
    service: str
    kind: str  # direct | shared | unallocated
    rule: str
    cost: Decimal


def reconcile(rows: Sequence[ShowbackRow], team_totals: Mapping[str, Decimal], unit: Decimal) -> list[ShowbackRow]:
    """The rows in the currency's minor unit, each team's rows adding up exactly to its (already rounded) total in
    `team_totals` — the figure `by team` shows for it (largest remainder, `round_to_total`)."""
    by_team: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_team.setdefault(row.team, []).append(i)
    out = list(rows)
    for team, indexes in by_team.items():
        exact = {i: rows[i].cost for i in indexes}
        for i, cost in round_to_total(exact, team_totals.get(team), unit).items():
            out[i] = replace(rows[i], cost=cost)
    return out
