"""Spot for training: SageMaker training jobs of the last 30 days that ran on on-demand capacity, in moto server
mode behind the counting proxy, with the real bot over signed HTTP and billing lines naming one job. The saving is
the job's own billing lines × the family's documented spot discount; the buttons tag the job; an endpoint is
never offered spot."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest

from bot.domain.recommendations import SPOT
from tests.billing import Line, write_focus
from tests.conftest import TODAY
from tests.integration.aws_world import REGION
from tests.integration.conftest import RunningBot
from tests.integration.test_actions import APPROVER, CONFIG, MEMBER, billed_bot, blocks_text, click, start_bot

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sagemaker"
RUN_COST = Decimal("61.20")  # bert-ft-2026-11-20: 2 × ml.p3.2xlarge for 8 h at $3.825


def training_job(name: str, itype: str, count: int, spot: bool, tags: dict[str, str]) -> None:
    stopping: dict[str, int] = {"MaxRuntimeInSeconds": 36000}
    if spot:
        stopping["MaxWaitTimeInSeconds"] = 72000
    boto3.client("sagemaker", region_name=REGION).create_training_job(
        TrainingJobName=name, AlgorithmSpecification={"TrainingImage": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/"
                                                                        "train:1", "TrainingInputMode": "File"},
        RoleArn=ROLE, OutputDataConfig={"S3OutputPath": "s3://ml-models/out"},
        ResourceConfig={"InstanceType": itype, "InstanceCount": count, "VolumeSizeInGB": 50},
        StoppingCondition=stopping, EnableManagedSpotTraining=spot,
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()])


def key(name: str, kind: str = "training") -> str:
    return f"aws|{ACCOUNT}|{REGION}|{kind}|{name}"


def tags_of(name: str) -> dict[str, str]:
    sm = boto3.client("sagemaker", region_name=REGION)
    arn = sm.describe_training_job(TrainingJobName=name)["TrainingJobArn"]
    return {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn)["Tags"]}


@pytest.fixture
def training(aws: Any, tmp_path: Path) -> Iterator[tuple[RunningBot, Any]]:
    training_job("bert-ft-2026-11-20", "ml.p3.2xlarge", 2, False, {"team": "ml"})
    training_job("bert-ft-2026-11-27", "ml.p3.2xlarge", 2, False, {"team": "ml"})
    training_job("resnet-spot-1", "ml.g5.xlarge", 1, True, {"team": "ml"})
    sm = boto3.client("sagemaker", region_name=REGION)
    sm.create_model(ModelName="ranker", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/ranker:1"})
    sm.create_endpoint_config(EndpointConfigName="ranker-cfg", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "ranker", "InitialInstanceCount": 2,
         "InstanceType": "ml.g4dn.xlarge", "InitialVariantWeight": 1.0}])
    sm.create_endpoint(EndpointName="ranker-ep", EndpointConfigName="ranker-cfg", Tags=[{"Key": "team", "Value": "ml"}])
    day = date.fromisoformat(TODAY) - timedelta(days=8)
    billing = write_focus(tmp_path / "billing" / "train.csv", [
        Line(day, RUN_COST, {"team": "ml"}, "Amazon SageMaker",
             f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/bert-ft-2026-11-20", Decimal(16),
             "USE1-Train:ml.p3.2xlarge"),
        Line(day, Decimal("900.00"), {"team": "ml"}, "Amazon SageMaker",
             f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/ranker-ep", Decimal(48), "USE1-Host:ml.g4dn.xlarge")])
    with billed_bot(tmp_path, billing, aws) as bot:
        yield bot, aws


def spot_recs(result: Any) -> dict[str, Any]:
    return {r.name: r for r in result.recommendations if r.kind == SPOT}


def test_on_demand_training_runs_are_offered_spot_with_the_saving_from_their_bill(training) -> None:  # type: ignore[no-untyped-def]
    bot, _ = training
    result = bot.services.scans.scan()
    offered = spot_recs(result)
    assert set(offered) == {"bert-ft-2026-11-20", "bert-ft-2026-11-27"}  # not the spot run, never the endpoint
    assert all(r.resource_key != key("ranker-ep", "endpoint") for r in result.recommendations if r.kind == SPOT)
    billed = offered["bert-ft-2026-11-20"]
    assert billed.monthly_savings == RUN_COST * Decimal("0.70") == Decimal("42.84")  # ml.p3: 70 %
    assert billed.reason.startswith("ran on on-demand capacity; managed spot training typically saves 70% on "
                                    "ml.p3.2xlarge — next run: use_spot_instances=True, max_wait at least max_run")
    assert "checkpoint_s3_uri" in billed.reason and "$61.20 in the bill over the last 30 days × 70%" in billed.reason
    assert offered["bert-ft-2026-11-27"].monthly_savings is None  # not in the bill yet, no billable time known
    (post_,) = [c for c in bot.stub.api_calls("chat.postMessage") if c.args["channel"] == "C0TEAMML1"]
    labels = {e["text"]["text"] for b in post_.args["blocks"] if b["type"] == "actions" for e in b["elements"]}
    assert {"Remind me on the next run", "Dismiss"} <= labels and "Stop" not in labels
    text = blocks_text(post_.args["blocks"])  # a past run: what spot would have saved, never "saves …/month"
    assert text.splitlines()[0] == "Ways to save · team-ml"
    assert post_.args["text"] == "Ways to save for team-ml: 2 resources"
    (line,) = [t for t in text.splitlines() if "*bert-ft-2026-11-20*" in t]
    assert line.endswith("$61.20 in the bill over the last 30 days × 70% · spot would have saved ~$43 over the last "
                         "30 days · training `bert-ft-2026-11-20` · 123456789012/us-east-1")
    waiting = bot.services.actions.savings_waiting("team-ml")
    assert [(r.recommendation.name, r.monthly_savings) for r in waiting.rows if r.recommendation.kind == SPOT] == [
        ("bert-ft-2026-11-20", Decimal("42.84")), ("bert-ft-2026-11-27", None)]


def test_remind_sets_this_run_aside_and_dismiss_its_later_runs_too(training) -> None:  # type: ignore[no-untyped-def]
    bot, _ = training
    bot.services.scans.scan()
    reply = click(bot, "costbot_remind_next_run", key("bert-ft-2026-11-20"), MEMBER, "r1")
    assert "next run on on-demand capacity is offered spot again" in blocks_text(reply["blocks"])
    assert tags_of("bert-ft-2026-11-20")["costbot:spot"] == "remind-next-run"
    assert set(spot_recs(bot.services.scans.scan())) == {"bert-ft-2026-11-27"}
    training_job("bert-ft-2026-11-28", "ml.p3.2xlarge", 2, False, {"team": "ml"})  # the next run: offered
    assert set(spot_recs(bot.services.scans.scan())) == {"bert-ft-2026-11-27", "bert-ft-2026-11-28"}
    click(bot, "costbot_dismiss", key("bert-ft-2026-11-27"), APPROVER, "d1")
    assert tags_of("bert-ft-2026-11-27")["costbot:spot"] == "dismissed"
    training_job("bert-ft-2026-11-29", "ml.p3.2xlarge", 2, False, {"team": "ml"})
    assert spot_recs(bot.services.scans.scan()) == {}  # the family is dismissed, later runs included
    entries = [(e.actor, e.action, e.after) for e in bot.services.actions.audit(10) if e.action in ("remind",
                                                                                                     "dismiss")]
    assert entries == [(APPROVER, "dismiss", "costbot:spot=dismissed"),
                       (MEMBER, "remind", "costbot:spot=remind-next-run")]


def test_only_the_owning_team_sets_a_run_aside(training) -> None:  # type: ignore[no-untyped-def]
    bot, _ = training
    bot.services.scans.scan()
    reply = click(bot, "costbot_dismiss", key("bert-ft-2026-11-20"), "U0OUTSIDE", "o1")
    assert "only team-ml's members and approvers can set bert-ft-2026-11-20 aside" in blocks_text(reply["blocks"])
    assert "costbot:spot" not in tags_of("bert-ft-2026-11-20")


# --- EC2 instances doing batch training ---------------------------------------------------------------------------
TRAIN_BILLED = Decimal("1468.80")  # train-llm-2026-11-20: p3.8xlarge for 120 h at $12.24


@pytest.fixture
def gpu_training(aws: Any, tmp_path: Path) -> Iterator[tuple[RunningBot, dict[str, str]]]:
    from tests.integration.aws_world import instance_metrics, launch

    ids = {"train-llm-2026-11-20": launch("train-llm-2026-11-20", "p3.8xlarge", {"team": "ml", "workload": "training"}),
           "train-llm-2026-11-27": launch("train-llm-2026-11-27", "g5.xlarge", {"team": "ml", "Workload": "Training"}),
           "train-idle": launch("train-idle", "g5.xlarge", {"team": "ml", "workload": "training"}),
           "dev-box": launch("dev-box", "g5.xlarge", {"team": "ml"}),
           "serving": launch("serving", "g5.xlarge", {"team": "ml", "workload": "inference"})}
    spot = boto3.client("ec2", region_name=REGION).run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="p3.2xlarge",
        InstanceMarketOptions={"MarketType": "spot"},
        TagSpecifications=[{"ResourceType": "instance", "Tags": [
            {"Key": "Name", "Value": "train-on-spot"}, {"Key": "team", "Value": "ml"},
            {"Key": "workload", "Value": "training"}]}])
    ids["train-on-spot"] = spot["Instances"][0]["InstanceId"]
    for name, ident in ids.items():
        idle = name == "train-idle"
        instance_metrics(ident, cpu=1.0 if idle else 85.0, gpu=0.0 if idle else 97.0,
                         net=1_000 if idle else 90_000_000, hours=8 * 24)
    day = date.fromisoformat(TODAY) - timedelta(days=5)
    billing = write_focus(tmp_path / "billing" / "ec2.csv", [
        Line(day, TRAIN_BILLED, {"team": "ml", "workload": "training"}, "Amazon Elastic Compute Cloud",
             f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{ids['train-llm-2026-11-20']}", Decimal(120),
             "BoxUsage:p3.8xlarge")])
    with billed_bot(tmp_path, billing, aws) as bot:
        yield bot, ids


def test_ec2_training_on_demand_is_offered_spot_for_its_next_launch(gpu_training) -> None:  # type: ignore[no-untyped-def]
    bot, ids = gpu_training
    result = bot.services.scans.scan()
    offered = spot_recs(result)
    # the tagged on-demand ones (tags compared without case); not the spot one, not the idle one (Stop saves more),
    # not the untagged or inference boxes
    assert set(offered) == {"train-llm-2026-11-20", "train-llm-2026-11-27"}
    assert {r.name: r.kind for r in result.recommendations if r.name == "train-idle"} == {"train-idle": "idle"}
    billed = offered["train-llm-2026-11-20"]
    assert billed.resource_key == f"aws|{ACCOUNT}|{REGION}|ec2|{ids['train-llm-2026-11-20']}"
    assert billed.monthly_savings == TRAIN_BILLED * Decimal("0.70") == Decimal("1028.16")  # p3: 70 %
    assert billed.reason.startswith("batch training on on-demand capacity; Spot typically saves 70% on p3.8xlarge — "
                                    "next launch: on Spot capacity (RunInstances InstanceMarketOptions")
    assert "checkpoints to S3" in billed.reason and "$1,468.80 in the bill over the last 30 days × 70%" in billed.reason
    listed = offered["train-llm-2026-11-27"]  # not in the bill: a month of its list price × 70 %
    assert listed.monthly_savings == Decimal("1.006") * 730 * Decimal("0.70")
    posts = [c for c in bot.stub.api_calls("chat.postMessage") if c.args["channel"] == "C0TEAMML1"]
    labels = {e["text"]["text"] for p in posts for b in p.args["blocks"] if b["type"] == "actions"
              for e in b["elements"] if "train-llm" in str(b)}
    assert {"Remind me on the next run", "Dismiss"} <= labels and "Stop" not in labels and not any(
        label.startswith("Resize") for label in labels)


def test_dismissing_an_ec2_training_box_tags_it_and_covers_its_later_launches(gpu_training) -> None:  # type: ignore[no-untyped-def]
    from tests.integration.aws_world import instance_metrics, launch, state_of, tags_of

    bot, ids = gpu_training
    bot.services.scans.scan()
    first = f"aws|{ACCOUNT}|{REGION}|ec2|{ids['train-llm-2026-11-20']}"
    click(bot, "costbot_dismiss", first, APPROVER, "e1")
    assert tags_of(ids["train-llm-2026-11-20"])["costbot:spot"] == "dismissed"
    assert state_of(ids["train-llm-2026-11-20"]) == ("running", "p3.8xlarge")  # advice only: nothing changed
    for name in ("train-llm-2026-12-01", "finetune-7"):  # a later launch of the same run family, another family
        ident = launch(name, "p3.8xlarge", {"team": "ml", "workload": "training"})
        instance_metrics(ident, cpu=85.0, gpu=97.0, net=90_000_000, hours=8 * 24)
    assert set(spot_recs(bot.services.scans.scan())) == {"finetune-7"}  # train-llm-2026-11-27 and -12-01 too
    assert [(e.actor, e.action, e.after) for e in bot.services.actions.audit(5) if e.action == "dismiss"] == [
        (APPROVER, "dismiss", "costbot:spot=dismissed")]


def test_the_training_tags_are_configurable(aws: Any, tmp_path: Path) -> None:
    from tests.integration.aws_world import instance_metrics, launch

    batch = launch("nightly-batch", "g5.xlarge", {"team": "ml", "job-type": "batch"})
    tagged_default = launch("train-x", "g5.xlarge", {"team": "ml", "workload": "training"})
    for ident in (batch, tagged_default):
        instance_metrics(ident, cpu=85.0, gpu=97.0, net=90_000_000, hours=8 * 24)
    data = tmp_path / "data"
    data.mkdir()
    bot, server = start_bot(tmp_path, data, {**CONFIG, "rules": {"training_tags": {"job-type": "batch"}}})
    try:
        assert set(spot_recs(bot.services.scans.scan())) == {"nightly-batch"}
    finally:
        server.close()
        bot.stub.stop()
