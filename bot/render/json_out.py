"""The `--json` contract of `costbot ask` (DESIGN.md): one object, money rounded to the cent."""

from __future__ import annotations

from typing import Any

from bot.domain.answers import CostAnswer
from bot.domain.money import to_cents


def answer_to_json(answer: CostAnswer) -> dict[str, Any]:
    out: dict[str, Any] = {
        "scope": answer.scope,
        "start": answer.period.start.isoformat(),
        "end": answer.period.end.isoformat(),
        "metric": answer.metric,
        "currency": answer.currency,
        "total": float(to_cents(answer.total)),
        "previous_total": float(to_cents(answer.previous_total)),
        "untagged_cost": float(to_cents(answer.untagged_cost)),
        "data_through": answer.data_through.isoformat() if answer.data_through else None,
    }
    if answer.dimension is not None:
        out["by"] = answer.dimension
        out["groups"] = [{"key": g.key, "cost": float(to_cents(g.cost))} for g in answer.groups]
    return out
