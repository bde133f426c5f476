"""Source syncs against moto in server mode: Cost Explorer requests for a 3-month sync, and an S3 export of a
1M-row FOCUS Parquet file (rows/s), against ingesting the same file from local disk in the same run.

    python bench/sync_bench.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TODAY = date(2026, 11, 28)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()

    import boto3
    import duckdb
    from moto.server import ThreadedMotoServer

    from bot.adapters.duckdb_store import DuckDBCostStore
    from bot.adapters.sources.cost_explorer import CostExplorerSource
    from bot.adapters.sources.s3_export import S3ExportSource
    from bot.services.sync import SyncService

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    os.environ.update({"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1"})

    # Cost Explorer: 3 months (Sep 1 .. today), DAILY, 12 services x 8 team values, one page
    since = date(2026, 9, 1)
    services = [f"Service {i}" for i in range(12)]
    teams = ["ml", "vision", "search", "data", "platform", "ads", "speech", ""]
    days = (TODAY + timedelta(days=1) - since).days
    results = [{"ResultsByTime": [{
        "TimePeriod": {"Start": (since + timedelta(days=d)).isoformat(),
                       "End": (since + timedelta(days=d + 1)).isoformat()},
        "Estimated": False, "Total": {},
        "Groups": [{"Keys": [s, f"team${t}"], "Metrics": {"AmortizedCost": {"Amount": "1.5", "Unit": "USD"},
                                                           "UnblendedCost": {"Amount": "1.5", "Unit": "USD"}}}
                   for s in services for t in teams]} for d in range(days)]}]
    req = urllib.request.Request(f"{url}/moto-api/static/ce/cost-and-usage-results", method="POST",
                                 data=json.dumps({"results": results}).encode(),
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=30).read()

    with tempfile.TemporaryDirectory() as tmp:
        store = DuckDBCostStore(Path(tmp) / "costs.duckdb")
        ce = CostExplorerSource("ce", "team")
        t = time.perf_counter()
        (res,) = SyncService([ce], store, lambda: TODAY).sync(since=since)
        calls = res.requests.get("GetCostAndUsage", 0)
        print(f"Cost Explorer, {days} days x {len(services)} services x {len(teams)} team values: "
              f"{calls} GetCostAndUsage request(s) (USD {calls * 0.01:.2f}), {res.rows:,} rows, "
              f"{time.perf_counter() - t:.1f} s")
        print("  with 5 configured tag keys the request count is the same: Cost Explorer cannot combine tag keys "
              "into line items, so costbot asks for SERVICE x the team key only")

        # S3 export: one 1M-row FOCUS Parquet file with its manifest
        parquet = Path(tmp) / "part-0.parquet"
        con = duckdb.connect()
        con.execute(f"""COPY (SELECT TIMESTAMP '2026-11-01' + to_days(CAST(i % 27 AS INTEGER)) AS ChargePeriodStart,
            (i % 1000) / 100.0 AS BilledCost, (i % 1000) / 100.0 AS EffectiveCost, 'Amazon EC2' AS ServiceName,
            '111122223333' AS BillingAccountId, 'res-' || (i % 5000) AS ResourceId,
            MAP {{'team': 't' || (i % 8)}} AS Tags FROM range({args.rows}) t(i)) TO '{parquet}' (FORMAT parquet)""")
        con.close()
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="billing")
        key = "exports/focus/data/BILLING_PERIOD=2026-11/part-0.parquet"
        s3.upload_file(str(parquet), "billing", key)
        s3.put_object(Bucket="billing", Key="exports/focus/metadata/BILLING_PERIOD=2026-11/focus-Manifest.json",
                      Body=json.dumps({"billingPeriod": {"start": "20261101T000000.000Z"},
                                       "dataFiles": [f"s3://billing/{key}"]}).encode())
        export = S3ExportSource("exports", "billing", "exports/")
        store2 = DuckDBCostStore(Path(tmp) / "s3.duckdb")
        t = time.perf_counter()
        (res2,) = SyncService([export], store2, lambda: TODAY).sync(since=date(2026, 11, 1))
        synced = time.perf_counter() - t
        store3 = DuckDBCostStore(Path(tmp) / "local.duckdb")
        t = time.perf_counter()
        store3.ingest_files([parquet])
        local = time.perf_counter() - t
        print(f"S3 export sync: {res2.rows:,} rows in {synced:.2f} s = {res2.rows / synced / 1e6:.2f} M rows/s "
              f"(requests: {res2.requests})")
        print(f"baseline, the same file ingested from local disk: {local:.2f} s = "
              f"{args.rows / local / 1e6:.2f} M rows/s; ratio (baseline / sync) {local / synced:.2f}x")
    server.stop()


if __name__ == "__main__":
    main()
