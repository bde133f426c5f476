"""Billing data with known figures, written as a FOCUS CSV: one line per resource and day."""

from __future__ import annotations

import csv
import functools
import importlib.util
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType

HEADER = ("BillingAccountId", "SubAccountId", "ProviderName", "BillingPeriodStart", "ChargePeriodStart",
          "ChargePeriodEnd", "ChargeCategory", "BilledCost", "EffectiveCost", "BillingCurrency", "ServiceName",
          "ServiceCategory", "ResourceId", "ResourceName", "RegionId", "ConsumedQuantity", "ConsumedUnit", "Tags",
          "x_UsageType")


@dataclass(frozen=True)
class Line:
    day: date
    cost: Decimal
    tags: dict[str, str] = field(default_factory=dict)
    service: str = "Amazon Elastic Compute Cloud"
    resource: str = "i-0000000000000000a"
    hours: Decimal | None = None
    usage_type: str = ""


def daily(start: date, end: date, cost: str, **kwargs: object) -> list[Line]:
    """One line a day from `start` up to `end` (exclusive) at `cost`."""
    out = []
    day = start
    while day < end:
        out.append(Line(day, Decimal(cost), **kwargs))  # type: ignore[arg-type]
        day += timedelta(days=1)
    return out


def write_focus(path: Path, lines: Iterable[Line], account: str = "111122223333") -> Path:
    """`account` is the billing account: two sources may not both hold the same account and month."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for ln in lines:
            start = f"{ln.day.isoformat()}T00:00:00Z"
            end = f"{(ln.day + timedelta(days=1)).isoformat()}T00:00:00Z"
            writer.writerow([account, "210987654321", "AWS", f"{ln.day.replace(day=1).isoformat()}T00:00:00Z",
                             start, end, "Usage", str(ln.cost), str(ln.cost), "USD", ln.service, "Compute",
                             ln.resource, ln.resource.rsplit("/", 1)[-1], "us-east-1",
                             "" if ln.hours is None else str(ln.hours), "" if ln.hours is None else "Hrs",
                             json.dumps(ln.tags), ln.usage_type])
    return path


def write_focus_parquet(path: Path, lines: Iterable[Line], account: str = "111122223333") -> Path:
    """The same lines as `write_focus`, as a typed FOCUS Parquet file (timestamps, decimals, a MAP of tags)."""
    import duckdb

    text = write_focus(path.with_suffix(".csv"), lines, account)
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT BillingAccountId, SubAccountId, ProviderName, CAST(BillingPeriodStart AS TIMESTAMP) AS "
        "BillingPeriodStart, CAST(ChargePeriodStart AS TIMESTAMP) AS ChargePeriodStart, CAST(ChargePeriodEnd AS "
        "TIMESTAMP) AS ChargePeriodEnd, ChargeCategory, CAST(BilledCost AS DECIMAL(18,6)) AS BilledCost, "
        "CAST(EffectiveCost AS DECIMAL(18,6)) AS EffectiveCost, BillingCurrency, ServiceName, ServiceCategory, "
        "ResourceId, ResourceName, RegionId, TRY_CAST(ConsumedQuantity AS DOUBLE) AS ConsumedQuantity, "
        "ConsumedUnit, json_transform(Tags, '\"MAP(VARCHAR, VARCHAR)\"') AS Tags "
        f"FROM read_csv('{text}', all_varchar=true) ORDER BY ChargePeriodStart) TO '{path}' (FORMAT parquet)")
    con.close()
    text.unlink()
    return path


CUR2_COLUMNS = ("bill_payer_account_id, line_item_usage_account_id, bill_billing_period_start_date, "
                "line_item_line_item_type, line_item_usage_start_date, line_item_usage_end_date, "
                "line_item_product_code, line_item_unblended_cost, line_item_currency_code, product_product_name, "
                "resource_tags")


def write_cur2_parquet(path: Path, values: str) -> Path:
    """A CUR 2.0 Parquet export of these rows (SQL VALUES tuples in the order of `CUR2_COLUMNS`)."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM (VALUES {values}) t({CUR2_COLUMNS})) TO '{path}' (FORMAT parquet)")
    con.close()
    return path


@functools.cache
def year_generator() -> ModuleType:
    """The benchmarks' year generator (`bench/focus_year.py`): `write_year`, its `TEAMS`, and the `QUESTIONS` a
    year answers (asked on `ASKED_ON`)."""
    spec = importlib.util.spec_from_file_location("focus_year", Path(__file__).resolve().parents[1] / "bench" /
                                                  "focus_year.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def focus_year(out: Path, rows: int, months: int = 12) -> list[Path]:
    """A year (or its first `months`) of hourly, resource-level FOCUS line items, one Parquet file a month."""
    return list(year_generator().write_year(out, rows, months=months, threads=1))
