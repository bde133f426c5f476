"""A year of hourly, resource-level FOCUS line items as Parquet, one file per month, generated in DuckDB SQL.

    python bench/focus_year.py OUT_DIR --rows 100000000 [--year 2026]

Realistic cardinalities for a large ML organization: 200k resources, 40 accounts, 30 services, 8 regions,
tags on team (10) / project (60) / model (40) / env (3) with 10 % of resources untagged. Each resource has one
account, service, region, category and tag set for the whole year (as a real resource does), and they nest
as in a real organization (a project's team owns its accounts and works in 8 services and 3 regions). Rows
spread evenly over the hours of the year, in date order within each month; costs have 6 decimals.
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path

RESOURCES = 200_000
ACCOUNTS = 40
SERVICES = 30
REGIONS = ["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1",
           "ap-southeast-1", "sa-east-1"]
CATEGORIES = ["Compute", "Storage", "AI and Machine Learning", "Networking", "Databases", "Analytics"]
TEAMS = ["ml", "vision", "search", "data", "platform", "ads", "speech", "infra", "nlp", "recsys"]
UNTAGGED_SHARE = 10  # percent of resources without tags
PROJECTS = 60
MODELS = 40
ASKED_ON = date(year=2027, month=1, day=1)  # the questions are asked the day after the generated year (2026)
# the questions a year answers, one of every shape: scopes, groupings, `by day` over the year, `by resource top 10`
# (the scale benchmark times them; tests/integration/test_rollup_exact.py checks them to the cent)
QUESTIONS = [
    "2026-01-01..2026-12-31", "team-ml 2026-Q3", "team-vision 2026-06 by service", "2026-Q2 by team",
    "2026-10 by service top 5", "project:p7 2026-Q4", "team-ml 2026-01-01..2026-12-31 by project",
    "model:m3 2026-01-01..2026-12-31", "service:sagemaker 2026-11 by team", "untagged 2026-Q3 by account",
    "region:us-east-1 2026-09-01..2026-09-07 by service", "account:100000000003 2026-05",
    "team-search 2026-Q3 by month", "last-90d by team", "team-data 2026-12-31 by service",
    "env:prod 2026-11 by model top 10", "2026-08 billed by region", "last-week", "2026-10 by category top 10",
    "2026-01-01..2026-12-31 by day", "2026-Q1 by resource top 10", "team-ml 2026-02 by resource top 10",
    "2026-Q4 by week", "project:p12 2026-Q2 by env", "team-ads 2026-07 by region", "2026-11 by account top 5",
    "model:m10 2026-Q3 by service", 'service:"Amazon Elastic Compute Cloud" 2026-04 by project',
    "untagged 2026-06", "last-30d by env",
]


def _sql_list(items: list[str]) -> str:
    return "[" + ", ".join(f"'{s}'" for s in items) + "]"


def write_year(out: Path, rows: int, year: int = 2026, months: int = 12, threads: int | None = None) -> list[Path]:
    """Writes `rows` line items spread over `months` months of `year` (hour by hour); returns the files."""
    import duckdb

    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    con.execute("CREATE MACRO h(x) AS CAST(hash(x) % 1000000007 AS BIGINT)")
    resource = _resource_columns()
    hours_total = sum(_month_hours(year, m) for m in range(1, months + 1))
    files: list[Path] = []
    first_row = 0
    hours_before = 0
    for m in range(1, months + 1):
        hours = _month_hours(year, m)
        hours_before += hours
        last_row = rows * hours_before // hours_total
        n = last_row - first_row
        month_start = date(year, m, 1)
        path = out / f"focus-{month_start:%Y-%m}.parquet"
        con.execute(f"""
            COPY (
              SELECT '999900000000' AS BillingAccountId,
                     SubAccountId,
                     'AWS' AS ProviderName,
                     TIMESTAMP '{month_start}' AS BillingPeriodStart,
                     TIMESTAMP '{month_start}' + to_hours(CAST(i * {hours} // {max(n, 1)} AS INTEGER))
                       AS ChargePeriodStart,
                     TIMESTAMP '{month_start}' + to_hours(CAST(i * {hours} // {max(n, 1)} AS INTEGER) + 1)
                       AS ChargePeriodEnd,
                     CASE WHEN h(g * 37) % 50 = 0 THEN 'Tax' ELSE 'Usage' END AS ChargeCategory,
                     CAST((rate * (1 + h(g * 41) % 7)) / 1000000.0 AS DECIMAL(18, 6)) AS BilledCost,
                     CAST((rate * (1 + h(g * 41) % 7)) * 9 / 10000000.0 AS DECIMAL(18, 6)) AS EffectiveCost,
                     CAST((rate * (1 + h(g * 41) % 7)) * 11 / 10000000.0 AS DECIMAL(18, 6)) AS ListCost,
                     'USD' AS BillingCurrency,
                     ServiceName, ServiceCategory, ResourceId, RegionId,
                     'SKU' || (r % 500) AS SkuId,
                     1.0 AS ConsumedQuantity, 'Hours' AS ConsumedUnit,
                     Tags
              FROM (SELECT i, g, r, {resource} FROM (SELECT i, {first_row} + i AS g,
                                                          h(({first_row} + i) * 43) % {RESOURCES} AS r
                                                   FROM range({n}) t(i))) x
            ) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 122880)
        """)
        files.append(path)
        first_row = last_row
    con.close()
    return files


def _resource_columns() -> str:
    """A resource's attributes as functions of its number `r`: the same every hour of the year."""
    services = [f"Service {i:02d}" for i in range(SERVICES)]
    services[:4] = ["Amazon Elastic Compute Cloud", "Amazon SageMaker", "Amazon Simple Storage Service",
                    "Amazon Elastic Block Store"]
    # tags are hierarchical, as in a real organization: a project belongs to one team, a team works in its
    # own accounts, services and regions, a project trains one or two models
    project = f"(h(r * 19) % {PROJECTS})"
    team = f"({project} % {len(TEAMS)})"
    return f"""'res-' || r AS ResourceId,
               CAST(100000000000 + {team} * {ACCOUNTS // len(TEAMS)} + h(r * 3) % {ACCOUNTS // len(TEAMS)}
                    AS VARCHAR) AS SubAccountId,
               {_sql_list(services)}[1 + ({team} * 3 + h(r * 5) % 8) % {SERVICES}] AS ServiceName,
               {_sql_list(CATEGORIES)}[1 + ({team} * 3 + h(r * 5) % 8) % {SERVICES} % {len(CATEGORIES)}]
                 AS ServiceCategory,
               {_sql_list(REGIONS)}[1 + ({team} + h(r * 7) % 3) % {len(REGIONS)}] AS RegionId,
               CASE WHEN h(r * 13) % 100 < {UNTAGGED_SHARE} THEN MAP {{}}::MAP(VARCHAR, VARCHAR)
                    ELSE MAP {{'team': {_sql_list(TEAMS)}[1 + {team}], 'project': 'p' || {project},
                              'model': 'm' || (({project} * 2 + h(r * 23) % 2) % {MODELS}),
                              'env': ['prod', 'dev', 'test'][1 + h(r * 29) % 3]}} END AS Tags,
               (1 + h(r * 31) % 4000) AS rate"""


def _month_hours(year: int, month: int) -> int:
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return (nxt - date(year, month, 1)).days * 24


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--year", type=int, default=2026)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--threads", type=int)
    args = parser.parse_args()
    t = time.perf_counter()
    files = write_year(args.out, args.rows, args.year, args.months, args.threads)
    size = sum(f.stat().st_size for f in files)
    print(f"wrote {args.rows:,} rows in {len(files)} files ({size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()
