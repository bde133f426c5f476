"""100 team digests with charts: build (queries) + render (Block Kit + 1200x600 PNG), on 2 cores.

    python bench/digest_bench.py [--teams 100]

Synthetic FOCUS data for N teams (60 days, ~6,000 line items per team) is generated and ingested first.
costbot renders the digests in a process pool (one worker per core: rendering is CPU-bound Python, so
threads would share one core); the baseline is the same work in one process, one digest after another,
measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TODAY = date(2026, 11, 28)
DAYS = 60
_worker: dict[str, object] = {}


def config_for(teams: int) -> dict[str, object]:
    return {"teams": {f"team-{i:03d}": {"tags": {"team": f"t{i:03d}"}, "budget": {"monthly": 5000 + 100 * i}}
                      for i in range(teams)}}


def generate(path: Path, teams: int) -> None:
    import duckdb

    start = TODAY - timedelta(days=DAYS)
    con = duckdb.connect()
    con.execute("CREATE MACRO h(x) AS CAST(hash(x) % 1000000007 AS BIGINT)")
    con.execute(f"""
        COPY (
          SELECT TIMESTAMP '{start}' + to_days(CAST(d AS INTEGER)) AS ChargePeriodStart,
                 CAST(round(1 + (h(d * 1000 + r) % 5000) / 100.0, 6) AS DOUBLE) AS BilledCost,
                 CAST(round(1 + (h(d * 1000 + r) % 5000) / 100.0, 6) AS DOUBLE) AS EffectiveCost,
                 ['Amazon EC2', 'Amazon SageMaker', 'Amazon S3', 'Amazon EBS', 'AWS Data Transfer',
                  'Amazon Athena', 'Amazon EKS'][1 + h(r) % 7] AS ServiceName,
                 'res-' || r AS ResourceId,
                 MAP {{'team': 't' || lpad(CAST(r % {teams} AS VARCHAR), 3, '0'),
                       'project': 'p' || (h(r * 3) % 6), 'model': 'm' || (h(r * 5) % 4)}} AS Tags
          FROM range({DAYS}) a(d), range({teams * 100}) b(r)
        ) TO '{path}' (FORMAT parquet)""")
    con.close()


def _init(data_dir: str, teams: int) -> None:
    from bot.app import Application
    from bot.config import Settings, parse_config

    settings = Settings({"COSTBOT_DATA_DIR": data_dir, "COSTBOT_TODAY": TODAY.isoformat(),
                         "DATABASE_URL": f"sqlite:///{data_dir}/state-{os.getpid()}.db"})
    application = Application(settings, parse_config(config_for(teams)), duckdb_threads=1)
    _worker["digests"] = application.use_cases.digests


def render_one(team: str) -> int:
    from bot.render.charts import digest_png
    from bot.render.digest_blocks import digest_blocks
    from bot.services.digests import DigestService

    digests = _worker["digests"]
    assert isinstance(digests, DigestService)
    digest = digests.build(team)
    payload = [b.to_dict() for b in digest_blocks(digest)]
    assert digest.chart is not None
    return len(digest_png(digest.chart)) + len(payload)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--teams", type=int, default=100)
    args = parser.parse_args()
    teams = [f"team-{i:03d}" for i in range(args.teams)]
    with tempfile.TemporaryDirectory(prefix="costbot-digestbench-") as tmp:
        from bot.adapters.duckdb_store import DuckDBCostStore
        from bot.config import parse_config

        parquet = Path(tmp) / "focus.parquet"
        generate(parquet, args.teams)
        store = DuckDBCostStore(Path(tmp) / "costs.duckdb")
        store.index_tags(parse_config(config_for(args.teams)).indexed_tag_keys())
        summary = store.ingest_files([parquet])
        store.close()
        print(f"{summary.rows:,} line items for {args.teams} teams over {DAYS} days; {os.cpu_count()} cores")

        _init(tmp, args.teams)
        t = time.perf_counter()
        for team in teams:
            render_one(team)
        baseline = time.perf_counter() - t
        _worker.clear()

        workers = os.cpu_count() or 2
        t = time.perf_counter()
        with ProcessPoolExecutor(workers, initializer=_init, initargs=(tmp, args.teams)) as pool:
            sizes = list(pool.map(render_one, teams, chunksize=4))
        ours = time.perf_counter() - t
    assert len(sizes) == args.teams
    print(f"baseline (one process, one after another): {baseline:.1f} s = {baseline / args.teams * 1000:.0f} ms each")
    print(f"costbot ({workers} worker processes):         {ours:.1f} s for {args.teams} digests with charts "
          "(pool start-up included)")
    print(f"ratio (baseline / costbot): {baseline / ours:.2f}x")


if __name__ == "__main__":
    main()
