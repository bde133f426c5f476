"""Scale benchmark: a year of hourly resource-level line items (bench/focus_year.py), ingested month by month,
then 30 questions; every figure against a baseline measured in the same run.

    python bench/focus_year.py DATA --rows 100000000
    python bench/scale_bench.py DATA WORK [--runs 5]

Phases run in their own processes so each peak RSS is its own:
  ceiling  DuckDB's bare `CREATE TABLE AS SELECT * FROM read_parquet(month)` over the same files (ingest ceiling)
  ingest   `DuckDBCostStore.ingest_files` month by month (validation, replacement, tag columns, rollup: the
           whole command's work), peak RSS
  query    the 30 questions through AnswerService with the daily rollup, and again from the line items only
           (the rollup lever); every answer of one equals the other's; RSS at rest after the questions
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

TODAY = date(2027, 1, 1)  # the generated year is 2026
TEAMS = ["ml", "vision", "search", "data", "platform", "ads", "speech", "infra", "nlp", "recsys"]
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


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_now_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def files_in(data: Path) -> list[Path]:
    return sorted(data.glob("*.parquet"))


def ceiling(data: Path, work: Path, months: int) -> dict[str, object]:
    import duckdb

    path = work / "ceiling.duckdb"
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    t = time.perf_counter()
    rows = 0
    for i, f in enumerate(files_in(data)[:months]):
        verb = "CREATE TABLE c AS" if i == 0 else "INSERT INTO c"
        con.execute(f"{verb} SELECT * FROM read_parquet('{f}')")
        rows = con.execute("SELECT count(*) FROM c").fetchone()[0]  # type: ignore[index]
    seconds = time.perf_counter() - t
    con.close()
    size = path.stat().st_size
    path.unlink()
    return {"rows": rows, "seconds": seconds, "peak_mb": peak_mb(), "size_mb": size / 1e6}


def _config():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bot.config import parse_config

    return parse_config({"teams": {f"team-{t}": {"tags": {"team": t}} for t in TEAMS}})


def ingest(data: Path, work: Path) -> dict[str, object]:
    config = _config()
    from bot.adapters.duckdb_store import DuckDBCostStore

    path = work / "costs.duckdb"
    path.unlink(missing_ok=True)
    store = DuckDBCostStore(path, index_keys=config.indexed_tag_keys())
    store.cursor().close()  # the composition root's first use: tag columns made
    months = []
    t = time.perf_counter()
    rows = 0
    for f in files_in(data):
        m = time.perf_counter()
        rows += store.ingest_files([f]).rows
        months.append(time.perf_counter() - m)
    seconds = time.perf_counter() - t
    rolled = store._fetch("SELECT count(*) FROM daily_costs", {})[0][0]
    store.close()
    return {"rows": rows, "seconds": seconds, "months": months, "peak_mb": peak_mb(),
            "size_mb": path.stat().st_size / 1e6, "rollup_rows": rolled}


def query(work: Path, runs: int) -> dict[str, object]:
    config = _config()
    from bot.adapters.duckdb_store import DuckDBCostStore
    from bot.domain.query import Query
    from bot.services.allocation import AllocationService
    from bot.services.answers import AnswerService
    from bot.services.scopes import ScopeResolver

    def service(rollups: bool) -> AnswerService:
        store = DuckDBCostStore(work / "costs.duckdb", read_only=True, rollups=rollups)
        scopes = ScopeResolver(store, config)
        return AnswerService(store, scopes, AllocationService(store, scopes, config, store), config, lambda: TODAY)

    out: dict[str, object] = {}
    answers: dict[bool, dict[str, object]] = {}
    for rollups in (True, False):
        svc = service(rollups)
        samples: dict[str, list[float]] = {}
        answers[rollups] = {}
        for text in QUESTIONS:
            q = svc.parse(text)
            assert isinstance(q, Query), text
            answers[rollups][text] = svc.answer(q)  # warm
            times = []
            for _ in range(runs if rollups else max(1, runs // 2)):
                t = time.perf_counter()
                svc.answer(q)
                times.append(time.perf_counter() - t)
            samples[text] = times
        out["rollup" if rollups else "items"] = samples
        if rollups:
            out["rest_mb"] = rss_now_mb()
        svc.queries.close()  # type: ignore[attr-defined]
    out["equal"] = [t for t in QUESTIONS if answers[True][t] == answers[False][t]]
    out["peak_mb"] = peak_mb()
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_phase(*args: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path)
    parser.add_argument("work", type=Path)
    parser.add_argument("--phase", choices=["ceiling", "ingest", "query"])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ceiling-months", type=int, default=12, help="months the bare ceiling loads (rate only)")
    parser.add_argument("--skip-ingest", action="store_true", help="query the store WORK already holds")
    args = parser.parse_args()
    if args.phase:
        result = {"ceiling": lambda: ceiling(args.data, args.work, args.ceiling_months),
                  "ingest": lambda: ingest(args.data, args.work),
                  "query": lambda: query(args.work, args.runs)}[args.phase]()
        print(json.dumps(result))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    size = sum(f.stat().st_size for f in files_in(args.data))
    print(f"{len(files_in(args.data))} Parquet files, {size / 1e6:.0f} MB; {os.cpu_count()} cores; "
          f"load {os.getloadavg()[0]:.2f}")
    if not args.skip_ingest:
        c = run_phase(str(args.data), str(args.work), "--phase", "ceiling", "--ceiling-months",
                      str(args.ceiling_months))
        i = run_phase(str(args.data), str(args.work), "--phase", "ingest")
        rows = int(i["rows"])  # type: ignore[call-overload]
        c_rate = int(c["rows"]) / float(c["seconds"]) / 1e6  # type: ignore[arg-type, call-overload]
        i_rate = rows / float(i["seconds"]) / 1e6  # type: ignore[arg-type]
        months = [float(m) for m in i["months"]]  # type: ignore[attr-defined]
        print(f"ceiling (bare CREATE TABLE AS, month by month): {c['rows']:,} rows in {c['seconds']:.1f} s = "
              f"{c_rate:.2f} M rows/s, peak RSS {c['peak_mb']:.0f} MB, {c['size_mb']:.0f} MB on disk")
        print(f"costbot ingest (month by month, whole command): {i['seconds']:.1f} s = {i_rate:.2f} M rows/s "
              f"({i_rate / c_rate:.2f}x the ceiling), months {min(months):.1f}-{max(months):.1f} s, "
              f"peak RSS {i['peak_mb']:.0f} MB")
        print(f"store: {i['size_mb']:.0f} MB ({float(i['size_mb']) / rows * 1e8 / 1e3:.1f} GB per 100M rows), "  # type: ignore[arg-type]
              f"rollup {int(i['rollup_rows']):,} rows ({rows / int(i['rollup_rows']):.1f}x fewer)")  # type: ignore[call-overload]
    q = run_phase(str(args.data), str(args.work), "--phase", "query", "--runs", str(args.runs))
    rolled = [s for v in q["rollup"].values() for s in v]  # type: ignore[attr-defined]
    items = [s for v in q["items"].values() for s in v]  # type: ignore[attr-defined]
    print(f"answers with the rollup:  p50 {pct(rolled, 0.5) * 1000:.0f} ms, p95 {pct(rolled, 0.95) * 1000:.0f} ms, "
          f"max {max(rolled) * 1000:.0f} ms over {len(rolled)} answers; RSS at rest {q['rest_mb']:.0f} MB")
    print(f"answers from line items: p50 {pct(items, 0.5) * 1000:.0f} ms, p95 {pct(items, 0.95) * 1000:.0f} ms "
          f"(rollup lever: p50 {pct(items, 0.5) / pct(rolled, 0.5):.1f}x, "
          f"p95 {pct(items, 0.95) / pct(rolled, 0.95):.1f}x)")
    print(f"answers equal with and without the rollup: {len(q['equal'])}/{len(QUESTIONS)}")  # type: ignore[arg-type]
    print("per question (median ms with rollup / from line items):")
    for text in QUESTIONS:
        r = statistics.median(q["rollup"][text]) * 1000  # type: ignore[index]
        n = statistics.median(q["items"][text]) * 1000  # type: ignore[index]
        print(f"  {text:58s} {r:8.1f} {n:9.1f}")


if __name__ == "__main__":
    main()
