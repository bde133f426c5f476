"""An off-hours night for a fleet: AWS requests and wall time of the heads-up, the stop and the morning start.

    python bench/schedule_bench.py [--instances 500]

moto in server mode behind a counting proxy holds N EC2 instances of one team tagged `env: dev` (a fifth of them
GPU), following an `office-hours` schedule through the team's selector; one in ten is busy at the off time (CPU
35 %, GPU 90 % for the GPU ones), the rest idle. costbot's schedule service (app state on SQLite, no Slack) runs
the heads-up, the stop and the morning start as the scheduler would, and each phase is counted and timed. The
stop checks the busy ones in one batched CloudWatch pass (CPU, then GPU), then stops each of the others through
the action path (one request per resource: exactly once, re-checked live, audited). Wall times are mostly moto's.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

STOP = datetime(2026, 12, 1, 19, tzinfo=UTC)  # Tuesday 1 December 2026, 20:00 in Berlin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instances", type=int, default=500)
    args = parser.parse_args()
    n = args.instances

    from serving import counted_aws

    server, proxy = counted_aws()
    import boto3
    from botocore.config import Config

    long = Config(read_timeout=900, disable_request_compression=True)
    ec2 = boto3.client("ec2", region_name="us-east-1", config=long)
    cw = boto3.client("cloudwatch", region_name="us-east-1", config=long)
    t = time.perf_counter()
    ids: list[tuple[str, str]] = []
    gpu = n // 5
    tags = [{"Key": "team", "Value": "ml"}, {"Key": "env", "Value": "dev"}]
    for itype, count in (("g5.xlarge", gpu), ("m5.large", n - gpu)):
        left = count
        while left:
            batch = min(left, 500)
            r = ec2.run_instances(ImageId="ami-12c6146b", MinCount=batch, MaxCount=batch, InstanceType=itype,
                                  TagSpecifications=[{"ResourceType": "instance", "Tags": tags}])
            ids += [(i["InstanceId"], itype) for i in r["Instances"]]
            left -= batch
    data: dict[str, list[dict[str, object]]] = {"AWS/EC2": [], "CWAgent": []}
    for i, (iid, itype) in enumerate(ids):
        busy = i % 10 == 0
        dims = [{"Name": "InstanceId", "Value": iid}]
        for hours in (1, 2):
            stamp = STOP - timedelta(hours=hours)
            data["AWS/EC2"].append({"MetricName": "CPUUtilization", "Dimensions": dims, "Timestamp": stamp,
                                    "Value": 35.0 if busy else 3.0, "Unit": "Percent"})
            if itype.startswith("g"):
                data["CWAgent"].append({"MetricName": "nvidia_smi_utilization_gpu", "Dimensions": dims,
                                        "Timestamp": stamp, "Value": 90.0 if busy else 1.0, "Unit": "Percent"})
    for namespace, points in data.items():
        for i in range(0, len(points), 1000):
            cw.put_metric_data(Namespace=namespace, MetricData=points[i:i + 1000])
    print(f"moto: {len(ids)} instances ({gpu} GPU), metrics at the off time put in {time.perf_counter() - t:.1f} s")

    from bot.adapters.providers.aws import AwsProvider
    from bot.adapters.state.actions_repository import SqlActionStore
    from bot.adapters.state.database import make_engine, upgrade
    from bot.adapters.state.schedules_repository import SqlScheduleStore
    from bot.config import parse_config
    from bot.services.actions import ActionService
    from bot.services.schedules import ScheduleService

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/state.db")
        upgrade(engine)
        config = parse_config({
            "timezone": "Europe/Berlin", "providers": [{"kind": "aws", "regions": ["us-east-1"]}],
            "schedules": {"office-hours": {"on": "08:00", "off": "20:00"}},
            "teams": {"team-ml": {"tags": {"team": "ml"}, "schedule": {"name": "office-hours", "tags": {"env": "dev"},
                                                                       "kinds": ["ec2"]}}}})
        provider = AwsProvider(["us-east-1"])
        actions = ActionService({provider.name: provider}, SqlActionStore(engine), config, None,
                                lambda: date(2026, 12, 1))
        service = ScheduleService([provider], SqlScheduleStore(engine), actions, config, None)
        for label, moment in (("heads-up 19:30", STOP - timedelta(minutes=30)), ("stop 20:00", STOP),
                              ("start 08:00", STOP + timedelta(hours=12))):
            proxy.reset()
            t = time.perf_counter()
            steps = service.run(moment)
            took = time.perf_counter() - t
            outcomes: dict[str, int] = {}
            for s in steps:
                outcomes[s.outcome.split(":")[0]] = outcomes.get(s.outcome.split(":")[0], 0) + 1
            print(f"{label}: {took:.1f} s; outcomes {outcomes}; requests {dict(sorted(proxy.counts.items()))}; "
                  f"CloudWatch {proxy.counts['GetMetricData'] / n * 1000:.1f} per 1,000 resources")
        states: dict[str, int] = {}
        for r in ec2.describe_instances()["Reservations"]:
            for inst in r["Instances"]:
                states[inst["State"]["Name"]] = states.get(inst["State"]["Name"], 0) + 1
        print(f"after the morning start: {states}")
    proxy.stop()
    server.stop()


if __name__ == "__main__":
    main()
