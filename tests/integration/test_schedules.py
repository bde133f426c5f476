"""Off-hours schedules end to end: moto in server mode behind the counting proxy (EC2 instances, a SageMaker
notebook, CloudWatch metrics at the off time), the real bot over signed HTTP, the Slack stub, billing lines in the
store, and the app state on SQLite and PostgreSQL. Resource states are read back from moto after each step."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.config import Config

from bot.app import Application, main
from bot.domain.schedules import BUSY, KEPT, LEFT, STARTED, STOPPED
from tests.billing import daily, write_focus
from tests.conftest import TODAY
from tests.integration.aws_world import REGION, launch, state_of
from tests.integration.conftest import SECRET, RunningBot
from tests.integration.test_actions import APPROVER, MEMBER, billed_bot, blocks_text, buttons, start_bot
from tests.signing import actions_body, post

ACCOUNT = "123456789012"
ADMIN = "U0ADMIN01"
CONFIG: dict[str, Any] = {
    "timezone": "Europe/Berlin",
    "schedules": {"office-hours": {"on": "08:00", "off": "20:00", "weekends": "off", "holidays": ["2026-12-24"]}},
    "teams": {
        "team-ml": {"tags": {"team": "ml"}, "channel": "#team-ml", "members": [MEMBER], "approvers": [APPROVER],
                    "schedule": {"name": "office-hours", "tags": {"env": "dev"}, "kinds": ["ec2", "notebook"]}},
        "team-data": {"tags": {"team": "data"}, "channel": "#team-data", "approvers": ["U0DAT0001"]},
    },
    "providers": [{"kind": "aws", "regions": [REGION]}],
    "admins": [ADMIN],
    "owners_channel": "#cloud-owners",
}
# Tuesday 1 December 2026; Berlin is UTC+1: the heads-up at 19:30 is 18:30 UTC, the stop at 20:00 is 19:00 UTC,
# Wednesday's start at 08:00 is 07:00 UTC
HEADS_UP_AT, STOP_AT, START_AT = "2026-12-01T19:30", "2026-12-01T20:00", "2026-12-02T08:00"
STOP_UTC = datetime(2026, 12, 1, 19, tzinfo=UTC)
HOURLY = Decimal("0.90")  # gpu-dev-01's hour in the bill: $21.60 for 24 hours a day (the price table says $1.006)
NOTEBOOK_PRICE = Decimal("0.20")  # ml.t3.xlarge in the bundled price table (no billing lines name the notebook)
M5_LARGE = Decimal("0.096")  # m5.large in the bundled price table


def at(text: str) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Europe/Berlin"))


def metric_at(instance_id: str, when: datetime, cpu: float, gpu: float | None) -> None:
    """Hourly points for the two hours before `when` (what the off time's busy check reads)."""
    cw = boto3.client("cloudwatch", region_name=REGION, config=Config(disable_request_compression=True))
    dims = [{"Name": "InstanceId", "Value": instance_id}]
    for hours in (1, 2):
        stamp = when - timedelta(hours=hours)
        data = [{"MetricName": "CPUUtilization", "Dimensions": dims, "Timestamp": stamp, "Value": cpu,
                 "Unit": "Percent"}]
        cw.put_metric_data(Namespace="AWS/EC2", MetricData=data)
        if gpu is not None:
            cw.put_metric_data(Namespace="CWAgent", MetricData=[
                {"MetricName": "nvidia_smi_utilization_gpu", "Dimensions": dims, "Timestamp": stamp, "Value": gpu,
                 "Unit": "Percent"}])


def notebook_state(name: str) -> str:
    return str(boto3.client("sagemaker", region_name=REGION).describe_notebook_instance(
        NotebookInstanceName=name)["NotebookInstanceStatus"])


def key(ident: str, kind: str = "ec2") -> str:
    return f"aws|{ACCOUNT}|{REGION}|{kind}|{ident}"


def estate() -> dict[str, str]:
    """team-ml's dev boxes and notebook (following office-hours through the team's selector), a busy one, a
    protected one, an env=prod one tagged onto the schedule, one stopped by a person before the evening; team-data's
    `etl` (its team has no schedule) and `etl-dev` (following office-hours by its own tag); with idle metrics at
    the off time except for the busy one."""
    ids = {
        "gpu-dev-01": launch("gpu-dev-01", "g5.xlarge", {"team": "ml", "env": "dev"}),
        "gpu-dev-02": launch("gpu-dev-02", "g5.xlarge", {"team": "ml", "env": "dev"}),
        "gpu-dev-03": launch("gpu-dev-03", "g5.xlarge", {"team": "ml", "env": "dev"}),
        "dev-cpu": launch("dev-cpu", "m5.large", {"team": "ml", "env": "dev"}),
        "keep-me": launch("keep-me", "g5.xlarge", {"team": "ml", "env": "dev", "costbot": "protected"}),
        "train-prod": launch("train-prod", "p4d.24xlarge", {"team": "ml", "env": "prod",
                                                             "costbot:schedule": "office-hours"}),
        "off-box": launch("off-box", "g5.xlarge", {"team": "ml", "env": "dev"}),
        "etl": launch("etl", "m5.large", {"team": "data", "env": "dev"}),
        "etl-dev": launch("etl-dev", "m5.large", {"team": "data", "costbot:schedule": "office-hours"}),
        "typo-box": launch("typo-box", "m5.large", {"team": "data", "costbot:schedule": "ofice-hours"}),
    }
    boto3.client("ec2", region_name=REGION).stop_instances(InstanceIds=[ids["off-box"]])
    for name in ("gpu-dev-01", "gpu-dev-03", "dev-cpu", "keep-me", "etl-dev"):
        metric_at(ids[name], STOP_UTC, cpu=3.0, gpu=1.0 if name not in ("dev-cpu", "etl-dev") else None)
    metric_at(ids["gpu-dev-02"], STOP_UTC, cpu=35.0, gpu=91.0)  # a training run at the off time
    sm = boto3.client("sagemaker", region_name=REGION)
    sm.create_notebook_instance(NotebookInstanceName="nb-dev", InstanceType="ml.t3.xlarge",
                                RoleArn=f"arn:aws:iam::{ACCOUNT}:role/sagemaker",
                                Tags=[{"Key": "team", "Value": "ml"}, {"Key": "env", "Value": "dev"}])
    ids["nb-dev"] = "nb-dev"
    return ids


@pytest.fixture
def sched(aws: Any, tmp_path: Path) -> Iterator[tuple[RunningBot, dict[str, str], Any]]:
    ids = estate()
    end = date.fromisoformat(TODAY)
    arn = f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{ids['gpu-dev-01']}"
    billing = write_focus(tmp_path / "billing" / "ec2.csv", [
        *daily(end - timedelta(days=30), end, str(HOURLY * 24), tags={"team": "ml"}, resource=arn,
               hours=Decimal(24))])
    with billed_bot(tmp_path, billing, aws, CONFIG) as bot:
        yield bot, ids, aws


def run(bot: RunningBot, when: str, apply: bool = True) -> list[Any]:
    return bot.services.schedules.run(at(when), apply=apply)


def heads_up_post(bot: RunningBot) -> Any:
    (msg,) = [c for c in bot.stub.api_calls("chat.postMessage") if c.args["channel"] == "C0TEAMML1"]
    return msg


def click_keep(bot: RunningBot, value: str, user: str, rid: str, block_id: str, action: str) -> None:
    status, _ = post(bot.events_url, actions_body(action, value, bot.stub.response_url(rid), user_id=user,
                                                  block_id=block_id), SECRET)
    assert status == 200


def test_heads_up_keep_busy_stop_and_the_morning_start(sched) -> None:  # type: ignore[no-untyped-def]
    bot, ids, proxy = sched
    # 19:30: one heads-up in team-ml's channel listing what will stop, with its buttons
    steps = run(bot, HEADS_UP_AT)
    assert [(s.event, s.team, s.outcome) for s in steps] == [
        ("heads-up", "team-data", "posted: 1 to stop (etl-dev)"),
        ("heads-up", "team-ml", "posted: 5 to stop (dev-cpu, gpu-dev-01, gpu-dev-02, gpu-dev-03, nb-dev)")]
    (data_msg,) = [c.args for c in bot.stub.api_calls("chat.postMessage") if c.args["channel"] == "C0TEAMDAT"]
    assert data_msg["text"] == ":crescent_moon: *office-hours* stops 1 of team-data's resources at 20:00 " \
                               "(Europe/Berlin) on Tue 01 Dec; the schedule starts them again at 08:00 on Wed 02 Dec"
    msg = heads_up_post(bot)
    blocks = msg.args["blocks"]
    assert msg.args["text"] == ":crescent_moon: *office-hours* stops 5 of team-ml's resources at 20:00 " \
                               "(Europe/Berlin) on Tue 01 Dec; the schedule starts them again at 08:00 on Wed 02 Dec"
    assert blocks_text(blocks).splitlines()[:6] == [
        msg.args["text"], "*dev-cpu* — stops", "*gpu-dev-01* — stops", "*gpu-dev-02* — stops",
        "*gpu-dev-03* — stops", "*nb-dev* — stops"]
    event = bot.services.schedules.store.event("office-hours", "heads-up", "2026-12-01", "team-ml")
    assert event is not None and (event.channel, event.message_ts) == ("C0TEAMML1", msg.args.get("ts") or
                                                                       event.message_ts)
    rows = [b for b in blocks if b["type"] == "section" and b.get("accessory")]
    assert [(b["block_id"], b["accessory"]["action_id"], b["accessory"]["value"]) for b in rows] == [
        (f"headsup:{event.id}:{i}", "costbot_schedule_keep", key(ids[name], "notebook" if name == "nb-dev" else "ec2"))
        for i, name in enumerate(["dev-cpu", "gpu-dev-01", "gpu-dev-02", "gpu-dev-03", "nb-dev"])]
    assert buttons(blocks) == [("costbot_schedule_keep_all", str(event.id)),
                               ("costbot_schedule_skip", str(event.id))]
    assert proxy.counts["StopInstances"] == 0
    assert run(bot, "2026-12-01T19:35") == []  # posted once
    # Keep running tonight: ten clicks at once on gpu-dev-03 by the team's people and an admin -> kept once
    block_id = f"headsup:{event.id}:3"
    bodies = [actions_body("costbot_schedule_keep", key(ids["gpu-dev-03"]), bot.stub.response_url(f"k{i}"),
                           user_id=(MEMBER, APPROVER, ADMIN)[i % 3], block_id=block_id) for i in range(10)]
    barrier = threading.Barrier(len(bodies))

    def go(body: bytes) -> None:
        barrier.wait()
        assert post(bot.events_url, body, SECRET)[0] == 200

    threads = [threading.Thread(target=go, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bot.stub.wait_for(lambda cs: len([c for c in cs if c.kind == "response"]) == 10, timeout=60)
    keeps = [e for e in bot.services.actions.audit(100) if e.action == "keep"]
    assert len(keeps) == 1 and keeps[0].resource_key == key(ids["gpu-dev-03"])
    answers = [blocks_text(bot.stub.responses(f"k{i}")[0].args["blocks"]) for i in range(10)]
    assert sum(a == ":crescent_moon: Keeping gpu-dev-03 running tonight (audited)." for a in answers) == 1
    # someone outside the team may not keep anything
    click_keep(bot, key(ids["gpu-dev-01"]), "U0STRANGER", "x1", f"headsup:{event.id}:1", "costbot_schedule_keep")
    bot.stub.wait_for(lambda cs: any(c.kind == "response" and c.name == "x1" for c in cs), timeout=30)
    assert "only team-ml's members and approvers can keep" in blocks_text(bot.stub.responses("x1")[0].args["blocks"])
    updated = bot.stub.api_calls("chat.update")[-1].args
    assert updated["ts"] == event.message_ts
    assert f"*gpu-dev-03* — keeps running: kept running tonight by <@{keeps[0].actor}>" in blocks_text(
        updated["blocks"])
    # a person stops dev-cpu by hand before 20:00
    boto3.client("ec2", region_name=REGION).stop_instances(InstanceIds=[ids["dev-cpu"]])
    proxy.reset()
    # 20:00: gpu-dev-01 and the notebook stop; gpu-dev-02 is busy and kept; gpu-dev-03 was kept
    steps = run(bot, STOP_AT)
    assert {s.what: s.outcome for s in steps} == {
        "dev-cpu": f"{LEFT}: stopped by someone else before the off time: the schedule leaves it",
        "gpu-dev-01": STOPPED, "nb-dev": STOPPED, "etl-dev": STOPPED,
        "gpu-dev-02": f"{BUSY}: busy at the off time (GPU 91%, CPU 35%; idle is below GPU 5% and CPU 10%)",
        "gpu-dev-03": f"{KEPT}: kept running tonight by <@{keeps[0].actor}>"}
    assert state_of(ids["gpu-dev-01"])[0] == "stopped" and notebook_state("nb-dev") in ("Stopping", "Stopped")
    for running in ("gpu-dev-02", "gpu-dev-03", "keep-me", "train-prod", "etl"):
        assert state_of(ids[running])[0] == "running", running
    assert state_of(ids["etl-dev"])[0] == "stopped"
    assert proxy.counts["StopInstances"] == 2 and proxy.counts["StopNotebookInstance"] == 1
    assert proxy.counts["GetMetricData"] == 2  # one batch for CPU, one for the GPU (the busy check)
    # only the kinds that can follow a schedule are listed: no volumes, snapshots, buckets, jobs or endpoints
    assert proxy.counts["DescribeInstances"] > 0 and proxy.counts["ListNotebookInstances"] == 1
    for never in ("DescribeVolumes", "DescribeSnapshots", "ListBuckets", "ListTrainingJobs", "ListEndpoints"):
        assert proxy.counts[never] == 0, never
    report = bot.stub.api_calls("chat.postMessage")[-1].args
    assert report["channel"] == "C0TEAMML1"
    assert blocks_text(report["blocks"]).splitlines() == [
        ":crescent_moon: *office-hours* stopped 2 of team-ml's resources for the night of Tue 01 Dec",
        "• *gpu-dev-01*", "• *nb-dev*", "*Still running:*",
        "• *dev-cpu* — left: stopped by someone else before the off time: the schedule leaves it",
        "• *gpu-dev-02* — busy: busy at the off time (GPU 91%, CPU 35%; idle is below GPU 5% and CPU 10%)",
        f"• *gpu-dev-03* — kept: kept running tonight by <@{keeps[0].actor}>",
        "The schedule starts these again at 08:00 on Wed 02 Dec (only these)."]
    final = [c.args for c in bot.stub.api_calls("chat.update") if c.args["ts"] == event.message_ts][-1]
    assert buttons(final["blocks"]) == [] and not [b for b in final["blocks"] if b.get("accessory")]
    assert "*gpu-dev-01* — stopped" in blocks_text(final["blocks"]).splitlines()
    stops = [e for e in bot.services.actions.audit(100) if e.action == "stop" and e.result == "succeeded"]
    assert sorted((e.actor, e.resource_key) for e in stops) == sorted([
        ("schedule:office-hours", key(ids["gpu-dev-01"])), ("schedule:office-hours", key("nb-dev", "notebook")),
        ("schedule:office-hours", key(ids["etl-dev"]))])
    assert run(bot, "2026-12-01T20:05") == []  # once
    # the notebook has finished stopping by morning (moto keeps it Stopping otherwise)
    # 08:00: exactly what the schedule stopped starts again; dev-cpu and off-box (people's) stay stopped
    proxy.reset()
    steps = run(bot, START_AT)
    assert sorted((s.what, s.outcome) for s in steps) == [("etl-dev", STARTED), ("gpu-dev-01", STARTED),
                                                          ("nb-dev", STARTED)]
    assert state_of(ids["gpu-dev-01"])[0] == "running" and notebook_state("nb-dev") in ("Pending", "InService")
    assert state_of(ids["dev-cpu"])[0] == "stopped" and state_of(ids["off-box"])[0] == "stopped"
    assert proxy.counts["StartInstances"] == 2 and proxy.counts["StartNotebookInstance"] == 1
    starts = [e for e in bot.services.actions.audit(100) if e.action == "start" and e.result == "succeeded"]
    assert sorted(e.resource_key for e in starts) == sorted([key(ids["gpu-dev-01"]), key("nb-dev", "notebook"),
                                                             key(ids["etl-dev"])])
    assert {e.actor for e in starts} == {"schedule:office-hours"}
    # savings: 12 hours off each; gpu-dev-01 at its billed $0.90 an hour, the others at the price table's
    (plan,) = bot.services.schedules.plan(at("2026-12-02T09:00"))
    assert plan.saved.hours == Decimal(36)
    assert plan.saved.amount == 12 * HOURLY + 12 * NOTEBOOK_PRICE + 12 * M5_LARGE == Decimal("14.352")
    assert bot.services.schedules.saved_all(at("2026-11-30T00:00"), at("2026-12-07T00:00"), "team-data") == \
        12 * M5_LARGE
    nights = {r.name: r for r in bot.services.schedules.store.nights("office-hours")}
    assert (nights["gpu-dev-01"].cost_source, nights["nb-dev"].cost_source) == ("bill", "price table")


def test_the_cli_shows_the_plan_and_a_dry_run_changes_nothing(sched, tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    _, ids, proxy = sched
    cfg = tmp_path / "cli.yml"
    cfg.write_text(yaml.safe_dump(CONFIG))
    monkeypatch.setenv("COSTBOT_CONFIG", str(cfg))
    monkeypatch.setenv("COSTBOT_DATA_DIR", str(tmp_path / "cli-data"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli-state.db'}")
    monkeypatch.setenv("COSTBOT_TODAY", TODAY)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    proxy.reset()
    assert main(["schedules", "run", "--at", STOP_AT, "--json"]) == 0
    import json

    report = json.loads(capsys.readouterr().out)
    assert report["applied"] is False and report["at"] == "2026-12-01T20:00:00+01:00"
    assert {s["what"]: s["outcome"] for s in report["steps"]} == {
        "dev-cpu": "would stop (running now)", "gpu-dev-01": "would stop (running now)",
        "gpu-dev-03": "would stop (running now)", "nb-dev": "would stop (InService now)",
        "etl-dev": "would stop (running now)",
        "gpu-dev-02": "would keep running: busy at the off time (GPU 91%, CPU 35%; idle is below GPU 5% and CPU 10%)"}
    assert proxy.counts["StopInstances"] == 0 and proxy.counts["StopNotebookInstance"] == 0
    for name in ("gpu-dev-01", "gpu-dev-02", "gpu-dev-03", "dev-cpu"):
        assert state_of(ids[name])[0] == "running"
    assert main(["schedules", "--at", "2026-12-01T12:00", "--json"]) == 0
    (plan,) = json.loads(capsys.readouterr().out)["schedules"]
    assert (plan["next_stop"], plan["next_start"]) == ("2026-12-01T20:00:00+01:00", "2026-12-02T08:00:00+01:00")
    assert {r["name"]: (r["stops"], r["note"]) for r in plan["resources"]} == {
        "dev-cpu": (True, None), "gpu-dev-01": (True, None), "gpu-dev-02": (True, None), "gpu-dev-03": (True, None),
        "nb-dev": (True, None), "etl-dev": (True, None), "keep-me": (False, "protected: never touched"),
        "train-prod": (False, "env=prod: a schedule never stops it"), "off-box": (False, "stopped now")}
    proxy.reset()
    assert main(["schedules", "--json"]) == 0
    assert (proxy.counts["DescribeInstances"], proxy.counts["ListNotebookInstances"]) == (1, 1)  # listed once
    unknown = json.loads(capsys.readouterr().out)["unknown_schedule_tags"]
    assert unknown == [{"resource": key(ids["typo-box"]), "name": "typo-box", "schedule": "ofice-hours"}]
    assert main(["schedules"]) == 0
    captured = capsys.readouterr()
    assert "warning: typo-box is tagged costbot:schedule=ofice-hours, which is no configured schedule: it follows " \
           "none" in captured.err
    shown = captured.out
    assert "on 08:00, off 20:00 (Europe/Berlin), Monday to Friday, not on 2026-12-24\n" in shown


def test_two_schedulers_racing_on_postgresql_post_and_stop_once(aws: Any, tmp_path: Path, pg_url: str) -> None:
    ids = estate()
    data = tmp_path / "data"
    data.mkdir()
    bot, server = start_bot(tmp_path, data, CONFIG, database_url=pg_url)
    other = Application(bot.app.settings.with_values({"COSTBOT_DATA_DIR": str(tmp_path / "other")}))  # a second one
    aws.reset()
    try:
        services = [bot.services.schedules, other.use_cases.schedules]
        for when in (HEADS_UP_AT, STOP_AT, START_AT):
            gate = threading.Barrier(2)

            def go(i: int, moment: datetime = at(when), gate: threading.Barrier = gate) -> None:
                gate.wait()
                services[i].run(moment)

            threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        posts = [c for c in bot.stub.api_calls("chat.postMessage") if c.args["channel"] == "C0TEAMML1"]
        assert len(posts) == 2  # one heads-up, one report
        # dev-cpu, gpu-dev-01, gpu-dev-03, etl-dev and the notebook
        assert aws.counts["StopInstances"] == 4 and aws.counts["StopNotebookInstance"] == 1
        assert aws.counts["StartInstances"] == 4 and aws.counts["StartNotebookInstance"] == 1
        assert state_of(ids["gpu-dev-02"])[0] == "running"  # busy
        assert state_of(ids["off-box"])[0] == "stopped"  # a person's
        nights = bot.services.schedules.store.nights("office-hours")
        assert sorted((r.name, r.state) for r in nights) == [
            ("dev-cpu", STARTED), ("etl-dev", STARTED), ("gpu-dev-01", STARTED), ("gpu-dev-02", BUSY),
            ("gpu-dev-03", STARTED), ("nb-dev", STARTED)]
    finally:
        server.close()
        bot.stub.stop()
        other.close()
        bot.app.close()


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_migration_0008_goes_up_and_down_on_both_databases(database: str, tmp_path: Path,
                                                           request: pytest.FixtureRequest) -> None:
    from alembic import command
    from alembic.config import Config as AlembicConfig
    from sqlalchemy import inspect

    from bot.adapters.state.database import MIGRATIONS, make_engine, upgrade

    url = f"sqlite:///{tmp_path / 'state.db'}" if database == "sqlite" else request.getfixturevalue("pg_url")
    engine = make_engine(url)
    upgrade(engine)
    assert {"schedule_events", "schedule_nights"} <= set(inspect(engine).get_table_names())
    uniques = {u["name"] for t in ("schedule_events", "schedule_nights")
               for u in inspect(engine).get_unique_constraints(t)}
    assert uniques == {"uq_schedule_event", "uq_schedule_night"}
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0007")
    assert not {"schedule_events", "schedule_nights"} & set(inspect(engine).get_table_names())
    upgrade(engine)
    assert {"schedule_events", "schedule_nights"} <= set(inspect(engine).get_table_names())
    engine.dispose()
