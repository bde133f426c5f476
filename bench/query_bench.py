"""Ingest and query benchmark: costbot's DuckDB store against a pandas baseline, measured in one run.

    python bench/query_bench.py --rows 10000000

Phases run in their own processes so that each peak RSS is its own: generate (synthetic FOCUS Parquet),
costbot (ingest + 20 queries through AnswerService), pandas (read the Parquet, filter, group, per query).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from serving import pct

TODAY = date(2026, 11, 28)
DAYS = 180
TEAMS = ["ml", "vision", "search", "data", "platform", "ads", "speech", "infra"]
SERVICES = ["Amazon Elastic Compute Cloud", "Amazon SageMaker", "Amazon Simple Storage Service",
            "Amazon Elastic Block Store", "AWS Data Transfer", "Amazon Athena", "Amazon Virtual Private Cloud",
            "Amazon Elastic Kubernetes Service", "Amazon CloudWatch", "AWS Lambda", "Amazon DynamoDB",
            "Amazon Relational Database Service"]

# (text, pandas filter) pairs: the same 20 questions for both engines
QUERIES = [
    "last-week", "team-ml last-week", "team-vision mtd by service", "last-month by team",
    "last-30d by service top 5", "project:p7 last-month", "team-ml last-30d by project",
    "model:m3 ytd", "service:sagemaker last-month by team", "untagged last-30d by account",
    "region:us-east-1 last-week by service", "account:acct-3 mtd", "team-search 2026-Q3 by month",
    "last-90d by team", "team-data yesterday by service", "env:prod last-month by model top 10",
    "last-week billed by region", "team-platform this-week", "2026-10 by category", "last-7d by day",
]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(rows: int, path: Path) -> None:
    import duckdb

    start = TODAY - timedelta(days=DAYS)
    services = "[" + ", ".join(f"'{s}'" for s in SERVICES) + "]"
    teams = "[" + ", ".join(f"'{t}'" for t in TEAMS) + "]"
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = true")
    con.execute("CREATE MACRO h(x) AS CAST(hash(x) % 1000000007 AS BIGINT)")
    con.execute(f"""
        COPY (
          SELECT
            '111122223333' AS BillingAccountId,
            'acct-' || (h(i) % 12) AS SubAccountId,
            'AWS' AS ProviderName,
            TIMESTAMP '{start}' + to_days(CAST(i * {DAYS} // {rows} AS INTEGER)) AS ChargePeriodStart,
            TIMESTAMP '{start}' + to_days(CAST(i * {DAYS} // {rows} AS INTEGER) + 1) AS ChargePeriodEnd,
            'Usage' AS ChargeCategory,
            CAST(round((h(i * 7) % 100000) / 1000.0, 6) AS DOUBLE) AS BilledCost,
            CAST(round((h(i * 7) % 100000) / 1000.0 * 0.9, 6) AS DOUBLE) AS EffectiveCost,
            CAST(round((h(i * 7) % 100000) / 1000.0 * 1.1, 6) AS DOUBLE) AS ListCost,
            'USD' AS BillingCurrency,
            {services}[1 + h(i * 3) % {len(SERVICES)}] AS ServiceName,
            'Compute' AS ServiceCategory,
            'res-' || (h(i * 11) % 50000) AS ResourceId,
            ['us-east-1', 'us-west-2', 'eu-west-1', 'eu-central-1', 'ap-northeast-1'][1 + h(i * 5) % 5] AS RegionId,
            'SKU' || (h(i * 13) % 500) AS SkuId,
            1.0 AS ConsumedQuantity, 'Hours' AS ConsumedUnit,
            CASE WHEN h(i * 17) % 10 = 0 THEN MAP {{'env': 'prod'}}
                 ELSE MAP {{'team': {teams}[1 + h(i * 19) % {len(TEAMS)}],
                           'project': 'p' || (h(i * 23) % 30), 'model': 'm' || (h(i * 29) % 20),
                           'env': ['prod', 'dev', 'test'][1 + h(i * 31) % 3]}} END AS Tags
          FROM range({rows}) t(i)
        ) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 122880)
    """)
    con.close()


def bench_costbot(parquet: Path, work: Path) -> dict[str, object]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bot.adapters.duckdb_store import DuckDBCostStore
    from bot.config import parse_config
    from bot.domain.query import Query
    from bot.services.allocation import AllocationService
    from bot.services.answers import AnswerService
    from bot.services.scopes import ScopeResolver

    config = parse_config({"teams": {f"team-{t}": {"tags": {"team": t}} for t in TEAMS}})
    store = DuckDBCostStore(work / "costs.duckdb")
    store.index_tags(config.indexed_tag_keys())  # as the composition root does
    t0 = time.perf_counter()
    summary = store.ingest_files([parquet])
    ingest_s = time.perf_counter() - t0
    scopes = ScopeResolver(store, config)
    service = AnswerService(store, scopes, AllocationService(store, scopes, config, store), config, lambda: TODAY)
    samples: dict[str, list[float]] = {}
    for text in QUERIES:
        query = service.parse(text)
        assert isinstance(query, Query)
        service.answer(query)  # warm
        runs = []
        for _ in range(5):
            t = time.perf_counter()
            service.answer(query)
            runs.append(time.perf_counter() - t)
        samples[text] = runs
    return {"rows": summary.rows, "ingest_s": ingest_s, "samples": samples, "rss_mb": rss_mb()}


def bench_pandas(parquet: Path) -> dict[str, object]:
    import pandas as pd

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bot.domain.periods import resolve_period
    from bot.domain.query import Grammar, Query, parse_query

    grammar = Grammar(teams=tuple(f"team-{t}" for t in TEAMS),
                      tag_keys={"team": "team", "project": "project", "model": "model", "env": "env"})
    columns = {"team": "team", "project": "project", "model": "model", "env": "env", "service": "ServiceName",
               "account": "SubAccountId", "region": "RegionId", "category": "ServiceCategory"}
    samples: dict[str, list[float]] = {}
    for text in QUERIES:
        query = parse_query(text, grammar)
        assert isinstance(query, Query)
        period = resolve_period(query.period, TODAY)
        runs = []
        for _ in range(1):
            t = time.perf_counter()
            df = pd.read_parquet(parquet, columns=["ChargePeriodStart", "BilledCost", "EffectiveCost", "ServiceName",
                                                   "SubAccountId", "RegionId", "ServiceCategory", "Tags"])
            tags = df["Tags"].map(dict)
            for key in ("team", "project", "model", "env"):
                df[key] = tags.map(lambda d, k=key: d.get(k))
            metric = "BilledCost" if query.billed else "EffectiveCost"
            day = df["ChargePeriodStart"]
            mask = (day >= pd.Timestamp(period.start)) & (day < pd.Timestamp(period.end))
            prev = (day >= pd.Timestamp(period.previous_start)) & (day < pd.Timestamp(period.previous_end))
            scope = pd.Series(True, index=df.index)
            for s in query.scopes:
                if s.kind == "team":
                    scope &= df["team"] == str(s.key).removeprefix("team-")
                elif s.kind == "untagged":
                    scope &= df["team"].isna()
                elif s.kind == "tag":
                    scope &= df[str(s.key)].str.lower() == str(s.value).lower()
                elif s.kind == "service":
                    scope &= df["ServiceName"].str.lower().str.contains(str(s.value).lower())
                else:
                    scope &= df[columns[s.kind]].str.lower() == str(s.value).lower()
            _ = df.loc[mask & scope, metric].sum(), df.loc[prev & scope, metric].sum()
            if query.by is not None:
                key = columns.get(query.by.name, query.by.name)
                if query.by.kind == "time":
                    df["bucket"] = day.dt.to_period({"day": "D", "week": "W", "month": "M"}[query.by.name])
                    key = "bucket"
                df.loc[mask & scope].groupby(key, dropna=False)[metric].sum().sort_values(ascending=False)
            runs.append(time.perf_counter() - t)
            del df, tags
        samples[text] = runs
    return {"samples": samples, "rss_mb": rss_mb()}


def run_phase(phase: str, *args: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, __file__, "--phase", phase, *args], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--phase", choices=["generate", "costbot", "pandas"])
    parser.add_argument("--parquet", type=Path)
    parser.add_argument("--work", type=Path)
    parser.add_argument("--skip-pandas", action="store_true")
    args = parser.parse_args()
    if args.phase == "generate":
        generate(args.rows, args.parquet)
        print(json.dumps({"rss_mb": rss_mb()}))
        return
    if args.phase == "costbot":
        print(json.dumps(bench_costbot(args.parquet, args.work)))
        return
    if args.phase == "pandas":
        print(json.dumps(bench_pandas(args.parquet)))
        return

    with tempfile.TemporaryDirectory(prefix="costbot-bench-") as tmp:
        work = Path(tmp)
        parquet = work / "focus.parquet"
        t = time.perf_counter()
        run_phase("generate", "--rows", str(args.rows), "--parquet", str(parquet))
        print(f"generated {args.rows:,} FOCUS rows in {time.perf_counter() - t:.1f} s "
              f"({parquet.stat().st_size / 1e6:.0f} MB Parquet), {os.cpu_count()} cores")
        cb = run_phase("costbot", "--parquet", str(parquet), "--work", str(work))
        cb_all = [s for runs in cb["samples"].values() for s in runs]  # type: ignore[union-attr]
        rows = int(cb["rows"])  # type: ignore[call-overload]
        ingest_s = float(cb["ingest_s"])  # type: ignore[arg-type]
        print(f"costbot ingest: {rows:,} rows in {ingest_s:.2f} s = {rows / ingest_s / 1e6:.2f} M rows/s")
        print(f"costbot query:  p50 {pct(cb_all, 0.5) * 1000:.0f} ms, p95 {pct(cb_all, 0.95) * 1000:.0f} ms "
              f"over {len(cb_all)} runs of {len(QUERIES)} queries; peak RSS {cb['rss_mb']:.0f} MB")
        if args.skip_pandas:
            return
        pd_res = run_phase("pandas", "--parquet", str(parquet))
        pd_all = [s for runs in pd_res["samples"].values() for s in runs]  # type: ignore[union-attr]
        print(f"pandas baseline (read Parquet, filter, group): p50 {pct(pd_all, 0.5) * 1000:.0f} ms, "
              f"p95 {pct(pd_all, 0.95) * 1000:.0f} ms; peak RSS {pd_res['rss_mb']:.0f} MB")
        print(f"ratio (baseline / costbot): p50 {pct(pd_all, 0.5) / pct(cb_all, 0.5):.0f}x, "
              f"p95 {pct(pd_all, 0.95) / pct(cb_all, 0.95):.0f}x")
        print("per query (costbot median ms / pandas median ms):")
        for text in QUERIES:
            c = statistics.median(cb["samples"][text]) * 1000  # type: ignore[index]
            p = statistics.median(pd_res["samples"][text]) * 1000  # type: ignore[index]
            print(f"  {text:45s} {c:8.1f} {p:10.1f}")


if __name__ == "__main__":
    main()
