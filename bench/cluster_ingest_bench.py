"""What reading shared clusters costs at ingest: FOCUS CSV.gz with JSON tags (a quarter of the rows allocated
charges) and a CUR 2.0 CSV with split cost allocation rows, ingested with costbot's mappings and — the
baseline, same run, same files — with the shared-cluster columns left out (the mappings as before).

    python bench/cluster_ingest_bench.py --rows 1000000 --runs 3
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import gzip
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.adapters.duckdb_store import DuckDBCostStore
from bot.adapters.sources import cur, formats
from bot.adapters.sources.mapping import Mapping

HEADER = ["BillingAccountId", "SubAccountId", "ProviderName", "BillingPeriodStart", "ChargePeriodStart",
          "ChargePeriodEnd", "ChargeCategory", "BilledCost", "EffectiveCost", "BillingCurrency", "ServiceName",
          "ResourceId", "ResourceName", "RegionId", "AllocatedMethodId", "AllocatedResourceId", "AllocatedTags", "Tags"]
CUR_HEADER = ["bill_payer_account_id", "bill_billing_period_start_date", "line_item_usage_account_id",
              "line_item_line_item_type", "line_item_usage_start_date", "line_item_usage_end_date",
              "line_item_product_code", "line_item_usage_type", "line_item_resource_id", "line_item_unblended_cost",
              "line_item_currency_code", "resource_tags", "split_line_item_parent_resource_id",
              "split_line_item_split_cost", "split_line_item_unused_cost"]


def write_focus(path: Path, rows: int) -> None:
    rnd = random.Random(7)
    with gzip.open(path, "wt", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for i in range(rows):
            hour = i % 720
            start = f"2026-10-{1 + hour // 24:02d}T{hour % 24:02d}:00:00Z"
            end = f"2026-10-{1 + hour // 24:02d}T{hour % 24:02d}:59:59Z"
            cost = f"{rnd.random() * 10:.6f}"
            tags = json.dumps({"team": rnd.choice(["ml", "vision", "data"]), "project": f"p{i % 40}"})
            allocated = i % 4 == 0
            w.writerow(["B1", f"A{i % 12}", "Microsoft Azure", "2026-10-01T00:00:00Z", start, end, "Usage", cost,
                        cost, "USD", "Virtual Machines", f"vm-{i % 5000}", f"vm-{i % 5000}", "westeurope",
                        "split-proportional" if allocated else "",
                        f"/x/managedClusters/aks-{i % 3}/workloads/w{i % 9}" if allocated else "",
                        json.dumps({"k8s-namespace": f"ns-{i % 7}", "workload": f"w{i % 9}"}) if allocated else "",
                        tags])


def write_cur(path: Path, rows: int) -> None:
    """Nodes with three pods each per hour (a pod row and a node row in every four rows)."""
    rnd = random.Random(7)
    with gzip.open(path, "wt", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(CUR_HEADER)
        for i in range(rows // 4):
            hour = i % 720
            start = f"2026-10-{1 + hour // 24:02d}T{hour % 24:02d}:00:00Z"
            end = f"2026-10-{1 + hour // 24:02d}T{hour % 24:02d}:59:59Z"
            node = f"i-{i // 720:08d}"
            node_cost = 30 + rnd.random()
            w.writerow(["999", "2026-10-01T00:00:00Z", "444", "Usage", start, end, "AmazonEC2",
                        "BoxUsage:p4d.24xlarge", node, f"{node_cost:.6f}", "USD",
                        json.dumps({"user_team": "platform"}), "", "", ""])
            for p in range(3):
                w.writerow(["999", "2026-10-01T00:00:00Z", "444", "Usage", start, end, "AmazonEKS",
                            "USE1-EKS-EC2-vCPU-Hours", f"arn:aws:eks:us-east-1:444:pod/c1/ns-{p}/w{p}/u", "0", "USD",
                            json.dumps({"aws_eks_cluster_name": "c1", "aws_eks_namespace": f"ns-{p}"}), node,
                            f"{node_cost * 0.3:.6f}", f"{node_cost * 0.0333:.6f}"])


_NEW = ("AllocatedMethodId", "AllocatedMethodDetails", "AllocatedResourceId", "AllocatedResourceName",
        "AllocatedTags", "x_OriginTags", "x_Cluster", "x_Namespace", "x_Workload", "x_Node")


def _as_before(mapping: Mapping) -> Mapping:
    """A mapping as costbot made it before shared clusters: origin tags, no new columns, nothing derived."""
    exprs = {k: v for k, v in mapping.exprs.items() if k not in _NEW}
    if mapping.derived and "__origin_tags" in mapping.derived[0]:
        exprs["Tags"] = mapping.derived[0]["__origin_tags"]
    return Mapping(mapping.kind, exprs, mapping.checks)


@contextlib.contextmanager
def without_shared_clusters() -> Iterator[None]:
    """The baseline: the mappings as they were before shared clusters (no allocated-tag merge, no k8s columns,
    no split-cost window)."""
    saved_formats, saved_split = formats.FORMATS, cur._split_costs
    cur._split_costs = lambda *a, **k: []  # type: ignore[assignment]
    formats.FORMATS = tuple(
        dataclasses.replace(f, mapping=(lambda raw, m=f.mapping: _as_before(m(raw)))) if f.mapping else f
        for f in saved_formats)
    try:
        yield
    finally:
        formats.FORMATS, cur._split_costs = saved_formats, saved_split


def ingest_seconds(path: Path, work: Path) -> float:
    db = work / f"bench-{time.monotonic_ns()}.duckdb"
    store = DuckDBCostStore(db)
    t0 = time.perf_counter()
    store.ingest_files([path])
    took = time.perf_counter() - t0
    store.close()
    db.unlink()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        files = {"FOCUS 1.3 CSV.gz": work / "focus.csv.gz", "CUR 2.0 CSV.gz": work / "cur.csv.gz"}
        write_focus(files["FOCUS 1.3 CSV.gz"], args.rows)
        write_cur(files["CUR 2.0 CSV.gz"], args.rows)
        for name, path in files.items():
            costbot, baseline = [], []
            for _ in range(args.runs):  # interleaved, so load changes hit both alike
                costbot.append(ingest_seconds(path, work))
                with without_shared_clusters():
                    baseline.append(ingest_seconds(path, work))
            c, b = statistics.median(costbot), statistics.median(baseline)
            print(f"{name}, {args.rows:,} rows: shared clusters {c:.2f} s (runs {min(costbot):.2f}–"
                  f"{max(costbot):.2f}), baseline {b:.2f} s ({min(baseline):.2f}–{max(baseline):.2f}), "
                  f"ratio {c / b:.2f}x")


if __name__ == "__main__":
    main()
