"""Scanning storage: 5,000 EBS volumes and 500 S3 buckets, CloudWatch requests per 1,000 resources against a
naive scan that asks CloudWatch once per resource.

    python bench/storage_scan_bench.py [--volumes 5000] [--buckets 500]

moto in server mode behind a counting proxy holds the volumes (a third gp2 of 100-1,000 GiB, the rest gp3 or
small) and the buckets (Standard bytes put in CloudWatch for each, request metrics for a tenth, a lifecycle rule on
a fifth). costbot's scan is counted and timed: volumes are judged on what they are (DescribeVolumes, no metrics),
buckets on their size and reads, fetched for all of a region's buckets in batches of 500 queries. Then, in the same
run, the naive scan: one GetMetricData per resource (timed on a sample of 500 and scaled).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GIB = 1024**3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--volumes", type=int, default=5000)
    parser.add_argument("--buckets", type=int, default=500)
    args = parser.parse_args()

    from serving import counted_aws

    server, proxy = counted_aws()
    import boto3
    from botocore.config import Config

    ec2 = boto3.client("ec2", region_name="us-east-1")
    s3 = boto3.client("s3", region_name="us-east-1")
    cw = boto3.client("cloudwatch", region_name="us-east-1", config=Config(disable_request_compression=True))
    t = time.perf_counter()
    volumes = []
    for i in range(args.volumes):
        gp2 = i % 3 == 0
        size = 100 + (i * 37) % 900 if gp2 else 8 + i % 50
        v = ec2.create_volume(AvailabilityZone="us-east-1a", Size=size, VolumeType="gp2" if gp2 else "gp3",
                              TagSpecifications=[{"ResourceType": "volume",
                                                  "Tags": [{"Key": "team", "Value": "ml"}]}])
        volumes.append(v["VolumeId"])
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    names = [f"bench-bucket-{i:04d}" for i in range(args.buckets)]
    data = []
    for i, name in enumerate(names):
        s3.create_bucket(Bucket=name)
        if i % 5 == 0:
            s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": [
                {"ID": "abort", "Filter": {"Prefix": ""}, "Status": "Enabled",
                 "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}]})
        data.append({"MetricName": "BucketSizeBytes", "Timestamp": now, "Unit": "Bytes",
                     "Value": float((50 + i * 13 % 4000) * GIB),
                     "Dimensions": [{"Name": "BucketName", "Value": name},
                                    {"Name": "StorageType", "Value": "StandardStorage"}]})
        if i % 10 == 0:
            data.append({"MetricName": "GetRequests", "Timestamp": now, "Unit": "Count", "Value": 50_000.0,
                         "Dimensions": [{"Name": "BucketName", "Value": name},
                                        {"Name": "FilterId", "Value": "EntireBucket"}]})
    for i in range(0, len(data), 1000):
        cw.put_metric_data(Namespace="AWS/S3", MetricData=data[i:i + 1000])
    resources = len(volumes) + len(names)
    print(f"moto: {len(volumes)} volumes, {len(names)} buckets ({len(data)} datapoints) in "
          f"{time.perf_counter() - t:.1f} s")

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
        # moto takes longer than AWS's read timeout (60 s) to describe 5,000 volumes on a loaded 2-core machine:
        # give the bench's clients more time (and no retries, so that every request counted is one made)
        provider.sessions.config = Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=5,
                                          read_timeout=900)
        scanner = ScanService([provider], SqlActionStore(engine), config, None, lambda: date.today())
        proxy.reset()
        t = time.perf_counter()
        result = scanner.scan(post=False)
        ours = time.perf_counter() - t
        ours_calls = proxy.counts["GetMetricData"]
        kinds: dict[str, int] = {}
        for rec in result.recommendations:
            kind = rec.resource_key.split("|")[3]
            kinds[kind] = kinds.get(kind, 0) + 1
        print(f"costbot scan: {result.resources} resources, {len(result.recommendations)} findings {kinds}, "
              f"{ours_calls} CloudWatch requests ({ours_calls / resources * 1000:.2f} per 1,000 resources), "
              f"{ours:.1f} s")
        print(f"all requests: {dict(sorted(proxy.counts.items()))}")

    proxy.reset()
    end = datetime.now(UTC)
    sample = (volumes[:250] + names[:250])[:500]
    t = time.perf_counter()
    for ident in sample:  # the naive scan: one GetMetricData per resource
        if ident.startswith("vol-"):
            metric = {"Namespace": "AWS/EBS", "MetricName": "VolumeReadOps",
                      "Dimensions": [{"Name": "VolumeId", "Value": ident}]}
        else:
            metric = {"Namespace": "AWS/S3", "MetricName": "BucketSizeBytes",
                      "Dimensions": [{"Name": "BucketName", "Value": ident},
                                     {"Name": "StorageType", "Value": "StandardStorage"}]}
        cw.get_metric_data(MetricDataQueries=[{"Id": "q0", "MetricStat": {"Metric": metric, "Period": 3600,
                                                                           "Stat": "Average"}}],
                           StartTime=end - timedelta(days=3), EndTime=end)
    naive = (time.perf_counter() - t) * resources / len(sample)
    naive_calls = proxy.counts["GetMetricData"] * resources // len(sample)
    print(f"baseline (one request per resource): {naive_calls} CloudWatch requests "
          f"({naive_calls / resources * 1000:.0f} per 1,000), ~{naive:.1f} s (timed on {len(sample)}, scaled)")
    print(f"ratio (baseline / costbot): requests {naive_calls / max(ours_calls, 1):.0f}x fewer, "
          f"time {naive / ours:.2f}x")
    proxy.stop()
    server.stop()


if __name__ == "__main__":
    main()
