"""A small AWS estate in the moto server for scans and actions: idle, busy, protected, snoozed, oversized
instances, a SageMaker notebook and an endpoint, with CloudWatch metrics put for each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config

AMI = "ami-12c6146b"
REGION = "us-east-1"


@dataclass
class World:
    ids: dict[str, str]  # name -> instance id / resource name

    def key(self, name: str, kind: str = "ec2", account: str = "123456789012") -> str:
        return f"aws|{account}|{REGION}|{kind}|{self.ids[name]}"


def ec2(region: str = REGION, session: Any = None) -> Any:
    """An EC2 client of the default account, or of `session`'s (another account's credentials)."""
    return (session or boto3).client("ec2", region_name=region)


def state_of(instance_id: str, region: str = REGION, session: Any = None) -> tuple[str, str]:
    inst = ec2(region, session).describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    return inst["State"]["Name"], inst["InstanceType"]


def tags_of(instance_id: str) -> dict[str, str]:
    inst = ec2().describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    return {t["Key"]: t["Value"] for t in inst.get("Tags", [])}


def launch(name: str, itype: str, tags: dict[str, str], region: str = REGION, session: Any = None) -> str:
    all_tags = [{"Key": "Name", "Value": name}] + [{"Key": k, "Value": v} for k, v in tags.items()]
    r = ec2(region, session).run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType=itype,
                            TagSpecifications=[{"ResourceType": "instance", "Tags": all_tags}])
    return str(r["Instances"][0]["InstanceId"])


def put_series(namespace: str, metric: str, dims: list[dict[str, str]], value: float, hours: int,
               unit: str = "Percent", latest: float | None = None, region: str = REGION, session: Any = None) -> None:
    """Hourly datapoints for the last `hours` hours and the current one (so a window of `hours` still holds
    them all when the clock passes the hour mid-test); `latest` overrides the most recent hour."""
    # moto's server cannot read a gzip-compressed PutMetricData body: send it plain
    cw = (session or boto3).client("cloudwatch", region_name=region, config=Config(disable_request_compression=True))
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    data = [{"MetricName": metric, "Dimensions": dims, "Timestamp": now - timedelta(hours=h),
             "Value": latest if (latest is not None and h == 0) else value, "Unit": unit}
            for h in range(0, hours + 1)]
    for i in range(0, len(data), 500):
        cw.put_metric_data(Namespace=namespace, MetricData=data[i:i + 500])


def instance_metrics(instance_id: str, cpu: float, gpu: float | None, net: float, hours: int = 30,
                     region: str = REGION, session: Any = None) -> None:
    dims = [{"Name": "InstanceId", "Value": instance_id}]
    where: dict[str, Any] = {"region": region, "session": session}
    put_series("AWS/EC2", "CPUUtilization", dims, cpu, hours, **where)
    put_series("AWS/EC2", "NetworkIn", dims, net / 2, hours, unit="Bytes", **where)
    put_series("AWS/EC2", "NetworkOut", dims, net / 2, hours, unit="Bytes", **where)
    if gpu is not None:
        put_series("CWAgent", "nvidia_smi_utilization_gpu", dims, gpu, hours, **where)


def assumed(role_arn: str) -> Any:
    """A boto3 session with the credentials of `role_arn` (moto puts them in the role's account)."""
    creds = boto3.client("sts", region_name=REGION).assume_role(RoleArn=role_arn,
                                                                 RoleSessionName="tests")["Credentials"]
    return boto3.session.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                                 aws_session_token=creds["SessionToken"])


def build_world(snooze_until: str = "2099-01-01") -> World:
    ids = {
        "gpu-dev-02": launch("gpu-dev-02", "g5.12xlarge", {"team": "ml", "env": "dev"}),
        "train-01": launch("train-01", "p4d.24xlarge", {"team": "ml", "env": "prod"}),
        "keep-me": launch("keep-me", "g5.2xlarge", {"team": "ml", "costbot": "protected"}),
        "snoozed-box": launch("snoozed-box", "g5.xlarge", {"team": "ml", "costbot:snooze-until": snooze_until}),
        "etl-big": launch("etl-big", "m5.4xlarge", {"team": "data"}),
    }
    instance_metrics(ids["gpu-dev-02"], cpu=2.0, gpu=1.0, net=10_000)
    instance_metrics(ids["train-01"], cpu=60.0, gpu=92.0, net=80_000_000)
    instance_metrics(ids["keep-me"], cpu=1.0, gpu=0.0, net=1_000)
    instance_metrics(ids["snoozed-box"], cpu=1.0, gpu=0.0, net=1_000)
    instance_metrics(ids["etl-big"], cpu=18.0, gpu=None, net=40_000_000, hours=8 * 24)

    sm = boto3.client("sagemaker", region_name=REGION)
    role = "arn:aws:iam::123456789012:role/sagemaker"
    nb = sm.create_notebook_instance(NotebookInstanceName="nb-research", InstanceType="ml.t3.xlarge",
                                     RoleArn=role, Tags=[{"Key": "team", "Value": "ml"}])
    _ = nb
    put_series("/aws/sagemaker/NotebookInstances", "CPUUtilization",
               [{"Name": "NotebookInstanceName", "Value": "nb-research"}], 0.5, 30)
    sm.create_model(ModelName="ranker", ExecutionRoleArn=role,
                    PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/ranker:1"})
    sm.create_endpoint_config(EndpointConfigName="ranker-cfg", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "ranker", "InitialInstanceCount": 2,
         "InstanceType": "ml.g4dn.2xlarge", "InitialVariantWeight": 1.0}])
    sm.create_endpoint(EndpointName="ranker-ep", EndpointConfigName="ranker-cfg",
                       Tags=[{"Key": "team", "Value": "vision"}])
    put_series("AWS/SageMaker", "Invocations", [{"Name": "EndpointName", "Value": "ranker-ep"},
                                                {"Name": "VariantName", "Value": "AllTraffic"}], 0.0, 30,
               unit="None")
    ids["nb-research"] = "nb-research"
    ids["ranker-ep"] = "ranker-ep"
    return World(ids)
