"""Any line items, any grouping: the groups an answer shows (JSON, Slack, terminal) add up to the total it shows,
to the cent — through the real DuckDB store and answer service."""

from __future__ import annotations

import csv
import json
import re
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from bot.adapters.duckdb_store import DuckDBCostStore
from bot.config import parse_config
from bot.domain.query import Query
from bot.render.answer_blocks import answer_blocks
from bot.render.json_out import answer_to_json
from bot.render.terminal import render_answer
from bot.services.allocation import AllocationService
from bot.services.answers import AnswerService
from bot.services.scopes import ScopeResolver

TODAY = date(2026, 11, 28)
CONFIG = parse_config({"teams": {"team-a": {"tags": {"team": "a"}}, "team-b": {"tags": {"team": "b"}}}})
DIMENSIONS = ["team", "project", "service", "account", "region", "resource", "day", "week", "month", "category"]

line_item = st.fixed_dictionaries({
    "day": st.integers(min_value=1, max_value=60),
    "cost": st.decimals(min_value=Decimal("-50"), max_value=Decimal("5000"), places=6),
    "service": st.sampled_from(["S3", "EC2", "SageMaker"]),
    "account": st.sampled_from(["111111111111", "222222222222"]),
    "region": st.sampled_from(["us-east-1", "eu-west-1"]),
    "resource": st.sampled_from(["i-1", "i-2", "vol-3", ""]),
    "team": st.sampled_from(["a", "b", None]),
    "project": st.sampled_from(["x", "y", None]),
})


def _answer_service(path: Path, items: list[dict]) -> AnswerService:  # type: ignore[type-arg]
    bill = path / "focus.csv"
    with bill.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["BillingAccountId", "SubAccountId", "ChargePeriodStart", "BilledCost", "EffectiveCost",
                         "ServiceName", "ServiceCategory", "RegionId", "ResourceId", "Tags"])
        for it in items:
            tags = {k: it[k] for k in ("team", "project") if it[k]}
            writer.writerow(["1", it["account"], (TODAY - timedelta(days=it["day"])).isoformat(), it["cost"],
                             it["cost"], it["service"], "Compute", it["region"], it["resource"], json.dumps(tags)])
    store = DuckDBCostStore(":memory:")
    store.ingest_files([bill])
    scopes = ScopeResolver(store, CONFIG)
    return AnswerService(store, scopes, AllocationService(store, scopes, CONFIG), CONFIG, lambda: TODAY)


def _money(text: str) -> list[Decimal]:
    found = re.findall(r"(-?)\$([0-9,]+\.[0-9]{2})", text)
    return [Decimal(sign + digits.replace(",", "")) for sign, digits in found]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=st.lists(line_item, min_size=1, max_size=25), dimension=st.sampled_from(DIMENSIONS),
       top=st.one_of(st.none(), st.integers(min_value=1, max_value=4)))
def test_shown_groups_add_up_to_the_shown_total(items, dimension, top, tmp_path) -> None:  # type: ignore[no-untyped-def]
    service = _answer_service(tmp_path, items)
    text = f"last-90d by {dimension}" + (f" top {top}" if top else "")
    query = service.parse(text)
    assert isinstance(query, Query)
    answer = service.answer(query)
    exact = sum((Decimal(it["cost"]) for it in items), Decimal(0)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    shown = answer_to_json(answer)
    assert Decimal(str(shown["total"])) == exact
    assert sum((Decimal(str(g["cost"])) for g in shown["groups"]), Decimal(0)) == exact

    blocks = [b.to_dict() for b in answer_blocks(answer, text)]
    breakdown = next(b["text"]["text"] for b in blocks if b.get("text", {}).get("text", "").startswith("*By "))
    if "_no spend in this period_" not in breakdown:
        assert sum(_money(breakdown), Decimal(0)) == exact

    console = Console(width=200, record=True)
    console.print(render_answer(answer))
    table = console.export_text().splitlines()[3:-2]  # title, total, header; untagged and metric lines
    assert sum((_money(line)[0] for line in table if _money(line)), Decimal(0)) == exact
