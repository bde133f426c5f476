"""Scanning thousands of instances: CloudWatch requests and wall time, against one request per resource.

    python bench/scan_bench.py [--instances 5000]

moto in server mode behind a counting proxy holds N EC2 instances (20% GPU); costbot's scan (CPU for everything
in batches of 500, then network and GPU only for the near-idle ones) is counted and timed, then a naive scan
that asks CloudWatch once per instance, in the same run (timed on a sample of 500 and scaled). Wall times are
mostly moto's: it scans every stored datapoint for every query.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instances", type=int, default=5000)
    args = parser.parse_args()
    n = args.instances

    from serving import counted_aws

    server, proxy = counted_aws()
    import boto3
    from botocore.config import Config

    ec2 = boto3.client("ec2", region_name="us-east-1")
    cw = boto3.client("cloudwatch", region_name="us-east-1", config=Config(disable_request_compression=True))
    t = time.perf_counter()
    ids: list[str] = []
    gpu = n // 5
    for itype, count in (("g5.xlarge", gpu), ("m5.large", n - gpu)):
        left = count
        while left:
            batch = min(left, 500)
            r = ec2.run_instances(ImageId="ami-12c6146b", MinCount=batch, MaxCount=batch, InstanceType=itype,
                                  TagSpecifications=[{"ResourceType": "instance",
                                                      "Tags": [{"Key": "team", "Value": "ml"}]}])
            ids += [i["InstanceId"] for i in r["Instances"]]
            left -= batch
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    # datapoints for a fifth of the fleet (moto scans every stored point for every query: more would only time
    # moto): every 10th instance near idle, every 10th + 5 busy; the rest have no CPU data, as new ones do
    data = [{"MetricName": "CPUUtilization", "Dimensions": [{"Name": "InstanceId", "Value": iid}], "Timestamp": now,
             "Value": 2.0 if i % 10 == 0 else 55.0, "Unit": "Percent"} for i, iid in enumerate(ids) if i % 5 == 0]
    for i in range(0, len(data), 1000):
        cw.put_metric_data(Namespace="AWS/EC2", MetricData=data[i:i + 1000])
    print(f"moto: {len(ids)} instances ({gpu} GPU), CPU datapoints put in {time.perf_counter() - t:.1f} s")

    from bot.adapters.providers.aws import AwsProvider
    from bot.adapters.state.actions_repository import SqlActionStore
    from bot.adapters.state.database import make_engine, upgrade
    from bot.config import parse_config
    from bot.services.scans import ScanService

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/state.db")
        upgrade(engine)
        config = parse_config({"providers": [{"kind": "aws", "regions": ["us-east-1"]}]})
        provider = AwsProvider(["us-east-1"])
        scanner = ScanService([provider], SqlActionStore(engine), config, None, lambda: date.today())
        proxy.reset()
        t = time.perf_counter()
        result = scanner.scan(post=False)
        ours = time.perf_counter() - t
        ours_calls = proxy.counts["GetMetricData"]
        print(f"costbot scan: {result.resources} resources, {ours_calls} CloudWatch requests "
              f"({ours_calls / n * 1000:.1f} per 1,000 resources), {ours:.1f} s; all requests: "
              f"{dict(sorted(proxy.counts.items()))}")
        print(f"as the provider reports them: {dict(sorted(result.requests.items()))}")

    proxy.reset()
    end = datetime.now(UTC)
    sample = ids[: min(len(ids), 500)]
    t = time.perf_counter()
    for iid in sample:  # the naive scan: one GetMetricData per instance (timed on a sample)
        cw.get_metric_data(MetricDataQueries=[{"Id": "q0", "MetricStat": {"Metric": {
            "Namespace": "AWS/EC2", "MetricName": "CPUUtilization",
            "Dimensions": [{"Name": "InstanceId", "Value": iid}]}, "Period": 3600, "Stat": "Maximum"}}],
            StartTime=end - timedelta(hours=26), EndTime=end)
    naive = (time.perf_counter() - t) * len(ids) / len(sample)
    naive_calls = proxy.counts["GetMetricData"] * len(ids) // len(sample)
    print(f"baseline (one request per instance, CPU only): {naive_calls} CloudWatch requests, ~{naive:.1f} s "
          f"(timed on {len(sample)} instances, scaled)")
    print(f"ratio (baseline / costbot): requests {naive_calls / max(ours_calls, 1):.0f}x, time {naive / ours:.1f}x")
    proxy.stop()
    server.stop()


if __name__ == "__main__":
    main()
