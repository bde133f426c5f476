"""The public billing samples in ../shared/data ingest, and answer exactly what plain Python computes."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from tests.conftest import CliResult, shared_file


def cents(x: Decimal) -> float:
    return float(x.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def dec(text: str | None) -> Decimal:
    if text is None or text.strip().upper() in ("", "NULL"):
        return Decimal(0)
    plain = text.strip().replace("$", "").replace(",", "")
    return Decimal(plain).quantize(Decimal("0.000000001"), rounding=ROUND_HALF_UP)


def assert_groups_add_up(groups: list[dict], exact: dict[str, Decimal]) -> None:  # type: ignore[type-arg]
    """Groups shown with their total add up to it to the cent: each group is its exact sum floored or raised
    to a whole cent (it never moves by a cent or more) and the groups sum to the exact total rounded."""
    shown = {g["key"]: Decimal(str(g["cost"])) for g in groups}
    assert set(shown) == set(exact)
    for key, value in exact.items():
        assert abs(shown[key] - value) < Decimal("0.01"), (key, shown[key], value)
    assert sum(shown.values(), Decimal(0)) == Decimal(str(cents(sum(exact.values(), Decimal(0)))))


def ask_json(cli: Callable[..., CliResult], text: str) -> dict:  # type: ignore[type-arg]
    result = cli("ask", text, "--json")
    assert result.code == 0, result.err
    return result.json()


def test_focus_sample_1000(cli: Callable[..., CliResult]) -> None:
    path = shared_file("focus", "focus_sample_1000.csv")
    result = cli("ingest", str(path))
    assert result.code == 0, result.err
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert "1,000" in result.out and "AWS, Microsoft, Oracle" in result.out
    billed = sum((dec(r["BilledCost"]) for r in rows), Decimal(0))
    effective = sum((dec(r["EffectiveCost"]) for r in rows), Decimal(0))
    assert ask_json(cli, "2024-09 billed")["total"] == cents(billed)
    assert ask_json(cli, "2024-09")["total"] == cents(effective)
    per_service: dict[str, Decimal] = defaultdict(Decimal)
    per_app: dict[str, Decimal] = defaultdict(Decimal)
    spaced_org: dict[str, Decimal] = defaultdict(Decimal)
    for r in rows:
        per_service[r["ServiceName"]] += dec(r["BilledCost"])
        tags = json.loads(r["Tags"]) if r["Tags"] not in ("", "NULL") else {}
        per_app[tags.get("application") or "(untagged)"] += dec(r["BilledCost"])
        if tags.get(" org"):
            spaced_org[tags[" org"]] += dec(r["BilledCost"])
    answer = ask_json(cli, "2024-09 billed by service")
    assert_groups_add_up(answer["groups"], per_service)
    answer = ask_json(cli, "2024-09 billed by application")
    assert_groups_add_up(answer["groups"], per_app)
    # a key written with a leading space stays its own key
    assert spaced_org, "the sample carries the ' org' tag key"
    value, cost = max(spaced_org.items(), key=lambda kv: kv[1])
    assert ask_json(cli, f'2024-09 billed " org":"{value}"')["total"] == cents(cost)


def test_legacy_cur_csv_sample(cli: Callable[..., CliResult]) -> None:
    path = shared_file("cur", "legacy_cur_sample_anonymous_aws_export.csv")
    result = cli("ingest", str(path))
    assert result.code == 0, result.err
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    billed = sum((dec(r["lineItem/UnblendedCost"]) for r in rows), Decimal(0))
    assert ask_json(cli, "2023-11 billed")["total"] == cents(billed)
    per_service: dict[str, Decimal] = defaultdict(Decimal)
    for r in rows:
        per_service[r["product/ProductName"] or r["lineItem/ProductCode"]] += dec(r["lineItem/UnblendedCost"])
    answer = ask_json(cli, "2023-11 billed by service")
    assert_groups_add_up(answer["groups"], per_service)
    assert f"{len(rows):,}" in result.out


def test_cur_parquet_workshop(cli: Callable[..., CliResult]) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    folder = shared_file("cur", "wa_workshop_cur")
    result = cli("ingest", str(folder))
    assert result.code == 0, result.err
    cols = ["line_item_line_item_type", "line_item_usage_start_date", "line_item_unblended_cost",
            "reservation_effective_cost", "reservation_unused_amortized_upfront_fee_for_billing_period",
            "reservation_unused_recurring_fee", "resource_tags_user_department"]
    billed: dict[str, Decimal] = defaultdict(Decimal)
    effective: dict[str, Decimal] = defaultdict(Decimal)
    department: dict[str, Decimal] = defaultdict(Decimal)
    for f in sorted(Path(folder).glob("*.parquet")):
        table = pq.read_table(f, columns=cols).to_pylist()
        for r in table:
            month = r["line_item_usage_start_date"].strftime("%Y-%m")
            unblended = Decimal(repr(r["line_item_unblended_cost"] or 0.0))
            kind = r["line_item_line_item_type"]
            if kind == "DiscountedUsage":
                eff = Decimal(repr(r["reservation_effective_cost"] or 0.0))
            elif kind == "RIFee":
                eff = (Decimal(repr(r["reservation_unused_amortized_upfront_fee_for_billing_period"] or 0.0))
                       + Decimal(repr(r["reservation_unused_recurring_fee"] or 0.0)))
            else:
                eff = unblended
            billed[month] += unblended.quantize(Decimal("0.000000001"), rounding=ROUND_HALF_UP)
            effective[month] += eff.quantize(Decimal("0.000000001"), rounding=ROUND_HALF_UP)
            if month == "2018-11":
                department[r["resource_tags_user_department"] or "(untagged)"] += unblended
    for month in ("2018-10", "2018-11", "2018-12"):
        assert ask_json(cli, f"{month} billed")["total"] == cents(billed[month])
        assert ask_json(cli, month)["total"] == cents(effective[month])
    answer = ask_json(cli, "2018-11 billed by department")
    assert_groups_add_up(answer["groups"], department)
    # re-ingest: totals unchanged
    assert cli("ingest", str(folder)).code == 0
    assert ask_json(cli, "2018-10 billed")["total"] == cents(billed["2018-10"])


def test_focus_spec_examples(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    folder = shared_file("focus", "spec_examples_v1.2")
    # two purchase scenarios in the spec carry an impossible hour ("T30:00:00Z"): rejected with the row named
    result = cli("ingest", str(folder))
    assert result.code == 1
    assert "commitment_discount_purchase_scenario_2.csv, row 3, column ChargePeriodEnd: " \
           "'2023-02-01T30:00:00Z' is not a timestamp" in result.err
    good = [p for p in sorted(Path(folder).rglob("*.csv")) if "purchase_scenario_2" not in p.name
            and "purchase_scenario_3" not in p.name]
    result = cli("ingest", *map(str, good))
    assert result.code == 0, result.err
    expected = Decimal(0)
    for p in good:
        with p.open(newline="", encoding="utf-8-sig") as fh:
            for r in csv.DictReader(fh):
                expected += dec(r.get("BilledCost"))
    assert ask_json(cli, "2000-01-01..2030-12-31 billed")["total"] == cents(expected)
