"""The `--json` contract of `costbot ask` (DESIGN.md): one object, money rounded to the cent."""

from __future__ import annotations

from typing import Any

from bot.domain.answers import CostAnswer
from bot.domain.money import to_cents
from bot.domain.periods import Coverage


def _coverage(coverage: Coverage | None) -> dict[str, Any] | None:
    """What the store holds of a period it does not hold whole (null: all of it)."""
    if coverage is None:
        return None
    return {"start": coverage.start.isoformat(), "end": coverage.end.isoformat(), "days": coverage.days,
            "of_days": coverage.of_days}


def answer_to_json(answer: CostAnswer) -> dict[str, Any]:
    answer = answer.in_cents()
    out: dict[str, Any] = {
        "scope": answer.scope,
        "start": answer.period.start.isoformat(),
        "end": answer.period.end.isoformat(),
        "metric": answer.metric,
        "currency": answer.currency,
        "total": float(to_cents(answer.total)),
        "previous_total": float(to_cents(answer.previous_total)),
        "untagged_cost": float(to_cents(answer.untagged_cost)),
        "previous_start": answer.period.previous_start.isoformat(),
        "previous_end": answer.period.previous_end.isoformat(),
        "data_through": answer.data_through.isoformat() if answer.data_through else None,
        "coverage": _coverage(answer.coverage),
        "previous_coverage": _coverage(answer.previous_coverage),
    }
    if answer.direct_cost is not None and answer.shared_cost is not None:
        out["direct_cost"] = float(to_cents(answer.direct_cost))
        out["shared_cost"] = float(to_cents(answer.shared_cost))
    if answer.dimension is not None:
        out["by"] = answer.dimension
        out["groups"] = []
        for g in answer.groups:
            item: dict[str, Any] = {"key": g.key, "cost": float(to_cents(g.cost))}
            if g.name is not None:
                item["name"] = g.name
            if answer.group_split is not None and g.key in answer.group_split:
                direct, shared = answer.group_split[g.key]
                item["direct_cost"] = float(to_cents(direct))
                item["shared_cost"] = float(to_cents(shared))
            out["groups"].append(item)
    return out
