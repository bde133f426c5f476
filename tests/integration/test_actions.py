"""Scans and actions end to end: moto in server mode (behind a counting proxy), the real bot over HTTP, the
Slack stub. Resource states are read back from moto after each click."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from bot.app import Application
from bot.config import Settings
from bot.domain.actions import ActionNotAllowed
from bot.web import make_server, run_until_closed
from tests.conftest import TODAY
from tests.integration.aws_world import REGION, World, build_world, instance_metrics, state_of, tags_of
from tests.integration.conftest import SECRET, RunningBot
from tests.signing import actions_body, post
from tests.slack_stub import SlackStub

APPROVER = "U0ML00001"
MEMBER = "U0MEMBER1"
CHANNELS = {"team-ml": "C0TEAMML1", "team-data": "C0TEAMDAT", "team-vision": "C0TEAMVIS", "cloud-owners": "C0OWNERS1"}

CONFIG = {
    "timezone": "UTC",
    "teams": {
        "team-ml": {"tags": {"team": "ml"}, "channel": "#team-ml", "members": [MEMBER], "approvers": [APPROVER]},
        "team-data": {"tags": {"team": "data"}, "channel": "#team-data", "approvers": ["U0DAT0001"]},
        "team-vision": {"tags": {"team": "vision"}, "channel": "#team-vision", "approvers": ["U0VIS0001"]},
    },
    "providers": [{"kind": "aws", "regions": [REGION]}],
    "admins": ["U0ADMIN01"],
    "owners_channel": "#cloud-owners",
}


def bot_env(tmp: Path, demo_data: Path, config: dict[str, Any], stub: SlackStub,
            database_url: str | None = None) -> dict[str, str]:
    cfg_path = tmp / "costbot.yml"
    cfg_path.write_text(yaml.safe_dump(config))
    return {"COSTBOT_DATA_DIR": str(demo_data), "COSTBOT_TODAY": TODAY, "COSTBOT_CONFIG": str(cfg_path),
            "DATABASE_URL": database_url or f"sqlite:///{tmp / 'state.db'}", "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": stub.api_url}


def start_bot(tmp: Path, demo_data: Path, config: dict[str, Any],
              database_url: str | None = None) -> tuple[RunningBot, Any]:
    stub = SlackStub().start()
    stub.channels = dict(CHANNELS)
    env = bot_env(tmp, demo_data, config, stub, database_url)
    application = Application(Settings(env))
    slack = application.slack_app()
    server = make_server(application.wsgi(slack), "127.0.0.1", 0)
    threading.Thread(target=run_until_closed, args=(server,), daemon=True).start()
    return RunningBot(f"http://127.0.0.1:{server.effective_port}", stub, application, slack), server


@contextlib.contextmanager
def billed_bot(tmp_path: Path, billing: Path, aws: Any, config: dict[str, Any] | None = None) -> Iterator[RunningBot]:
    """The real bot over signed HTTP (`config`, else CONFIG) on a fresh data folder with `billing` ingested, and
    moto's request count starting from here."""
    data = tmp_path / "data"
    data.mkdir()
    bot, server = start_bot(tmp_path, data, config or CONFIG)
    bot.services.ingest.ingest([billing])
    aws.reset()
    try:
        yield bot
    finally:
        server.close()
        bot.stub.stop()
        bot.app.close()


@pytest.fixture
def bot_aws(aws: Any, demo_store: tuple[Path, Path], tmp_path: Path) -> Iterator[tuple[RunningBot, World, Any]]:
    world = build_world()
    running, server = start_bot(tmp_path, demo_store[0], CONFIG)
    aws.reset()
    try:
        yield running, world, aws
    finally:
        server.close()
        running.stub.stop()


def blocks_text(blocks: list[dict[str, Any]]) -> str:
    out = []
    for b in blocks:
        if isinstance(b.get("text"), dict):
            out.append(b["text"]["text"])
        for e in b.get("elements", []):
            if isinstance(e.get("text"), dict):
                out.append(e["text"]["text"])
            elif isinstance(e.get("text"), str):
                out.append(e["text"])
    return "\n".join(out)


def buttons(blocks: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["action_id"], e["value"]) for b in blocks if b["type"] == "actions" for e in b["elements"]]


def click(bot: RunningBot, action_id: str, value: str, user: str, rid: str, block_id: str = "b1") -> dict[str, Any]:
    status, _ = post(bot.events_url, actions_body(action_id, value, bot.stub.response_url(rid), user_id=user,
                                                  block_id=block_id), SECRET)
    assert status == 200
    bot.stub.wait_for(lambda cs: any(c.kind == "response" and c.name == rid for c in cs), timeout=30)
    return bot.stub.responses(rid)[0].args


def scan(bot: RunningBot) -> Any:
    return bot.services.scans.scan()


def test_scan_posts_idle_and_oversized_only(bot_aws) -> None:  # type: ignore[no-untyped-def]
    bot, world, proxy = bot_aws
    result = scan(bot)
    posts = {c.args["channel"]: c.args for c in bot.stub.api_calls("chat.postMessage")}
    assert set(posts) == {"C0TEAMML1", "C0TEAMDAT", "C0TEAMVIS"}
    ml = blocks_text(posts["C0TEAMML1"]["blocks"])
    assert "*gpu-dev-02* `g5.12xlarge`" in ml and "*nb-research* `ml.t3.xlarge`" in ml
    for never in ("train-01", "keep-me", "snoozed-box"):
        assert never not in ml
    assert "GPU ≤ 1%" in ml and "$136.13/day" in ml  # 5.672 $/h x 24
    assert ("costbot_stop", world.key("gpu-dev-02")) in buttons(posts["C0TEAMML1"]["blocks"])
    stop = next(e for b in posts["C0TEAMML1"]["blocks"] if b["type"] == "actions" for e in b["elements"]
                if e["action_id"] == "costbot_stop")
    assert stop["style"] == "danger" and stop["confirm"]["confirm"]["text"] == "Stop"
    data = posts["C0TEAMDAT"]["blocks"]
    assert "*etl-big* `m5.4xlarge` → `m5.2xlarge`" in blocks_text(data)
    assert ("costbot_resize", world.key("etl-big")) in buttons(data)
    assert "ranker-ep" in blocks_text(posts["C0TEAMVIS"]["blocks"])
    assert {r.name for r in result.recommendations} == {"gpu-dev-02", "nb-research", "etl-big", "ranker-ep"}
    # a second scan refreshes the same recommendations instead of adding new ones
    first_ids = sorted(r.id for r in result.recommendations)
    again = scan(bot)
    assert sorted(r.id for r in again.recommendations) == first_ids
    assert len(bot.services.actions.store.open_recommendations()) == 4
    # CloudWatch: one request for CPU/invocations of everything, one for the detail of the idle candidates
    assert proxy.counts["GetMetricData"] == 4


def test_stop_by_an_approver_stops_updates_and_audits(bot_aws) -> None:  # type: ignore[no-untyped-def]
    bot, world, proxy = bot_aws
    scan(bot)
    original = next(c for c in bot.stub.api_calls("chat.postMessage") if c.args["channel"] == "C0TEAMML1")
    reply = click(bot, "costbot_stop", world.key("gpu-dev-02"), APPROVER, "r1")
    assert state_of(world.ids["gpu-dev-02"])[0] == "stopped"
    assert state_of(world.ids["train-01"])[0] == "running"
    assert f"stopped {world.ids['gpu-dev-02']}" in blocks_text(reply["blocks"])
    assert proxy.counts["StopInstances"] == 1
    updates = [c for c in bot.stub.api_calls("chat.update") if c.args["ts"] == original.args.get("ts")
               or c.args["channel"] == "C0TEAMML1"]
    assert updates, "the original message is updated in place"
    text = blocks_text(updates[-1].args["blocks"])
    assert f"stopped {world.ids['gpu-dev-02']} — by <@{APPROVER}>" in text and "saves ~$4,141/month" in text
    undo = [v for a, v in buttons(updates[-1].args["blocks"]) if a == "costbot_undo"]
    assert len(undo) == 1
    (entry, *_rest) = bot.services.actions.audit(5)
    assert (entry.actor, entry.action, entry.result) == (APPROVER, "stop", "succeeded")
    assert entry.before.startswith("running g5.12xlarge") and entry.after.startswith("stopped")
    # Undo restores
    click(bot, "costbot_undo", undo[0], APPROVER, "r2")
    assert state_of(world.ids["gpu-dev-02"])[0] == "running"


def test_non_approver_asks_approver_decides(bot_aws) -> None:  # type: ignore[no-untyped-def]
    bot, world, proxy = bot_aws
    scan(bot)
    bot.stub.reset()
    reply = click(bot, "costbot_stop", world.key("gpu-dev-02"), MEMBER, "m1")
    assert "waiting for an approver" in blocks_text(reply["blocks"])
    assert state_of(world.ids["gpu-dev-02"])[0] == "running"
    (request_msg,) = [c for c in bot.stub.api_calls("chat.postMessage")]
    assert request_msg.args["channel"] == "C0TEAMML1"
    text = blocks_text(request_msg.args["blocks"])
    assert f"<@{MEMBER}> asks to *stop* *gpu-dev-02*" in text and f"<@{APPROVER}>" in text
    approve_value = next(v for a, v in buttons(request_msg.args["blocks"]) if a == "costbot_approve")
    refused = click(bot, "costbot_approve", approve_value, MEMBER, "m2")
    assert "only <@U0ML00001>, <@U0ADMIN01> can approve this" in blocks_text(refused["blocks"])
    assert state_of(world.ids["gpu-dev-02"])[0] == "running"
    assert proxy.counts["StopInstances"] == 0
    click(bot, "costbot_approve", approve_value, APPROVER, "m3")
    assert state_of(world.ids["gpu-dev-02"])[0] == "stopped"
    decided = [c for c in bot.stub.api_calls("chat.update") if c.args["ts"] == request_msg.args.get("ts")
               or "asks to" in blocks_text(c.args["blocks"])]
    assert decided and "costbot_approve" not in [a for a, _ in buttons(decided[-1].args["blocks"])]


def test_twenty_concurrent_approvals_make_one_stop_call(bot_aws) -> None:  # type: ignore[no-untyped-def]
    bot, world, proxy = bot_aws
    scan(bot)
    req = bot.services.actions.request(world.key("gpu-dev-02"), "stop", MEMBER)
    proxy.reset()
    bot.stub.reset()

    def approve(i: int) -> None:
        post(bot.events_url, actions_body("costbot_approve", str(req.id), bot.stub.response_url(f"a{i}"),
                                          user_id=APPROVER if i % 2 else "U0ADMIN01"), SECRET)

    threads = [threading.Thread(target=approve, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bot.stub.wait_for(lambda cs: len([c for c in cs if c.kind == "response"]) == 20, timeout=60)
    assert proxy.counts["StopInstances"] == 1
    assert state_of(world.ids["gpu-dev-02"])[0] == "stopped"
    assert bot.services.actions.store.request(req.id).status == "succeeded"


def test_busy_again_before_approval_is_refused(bot_aws) -> None:  # type: ignore[no-untyped-def]
    bot, world, proxy = bot_aws
    scan(bot)
    req = bot.services.actions.request(world.key("gpu-dev-02"), "stop", MEMBER)
    instance_metrics(world.ids["gpu-dev-02"], cpu=2.0, gpu=85.0, net=10_000, hours=2)  # a job started
    reply = click(bot, "costbot_approve", str(req.id), APPROVER, "b1")
    assert "refused: gpu-dev-02 is busy again" in blocks_text(reply["blocks"])
    assert state_of(world.ids["gpu-dev-02"])[0] == "running"
    assert proxy.counts["StopInstances"] == 0


def test_resize_keeps_the_run_state_and_undo_restores(bot_aws) -> None:  # type: ignore[no-untyped-def]
    bot, world, _ = bot_aws
    scan(bot)
    click(bot, "costbot_resize", world.key("etl-big"), "U0DAT0001", "z1")
    assert state_of(world.ids["etl-big"]) == ("running", "m5.2xlarge")
    req = bot.services.actions.store.latest_request(world.key("etl-big"))
    assert req.params["from"] == "m5.4xlarge" and req.params["to"] == "m5.2xlarge" and req.status == "succeeded"
    assert req.params["basis"] == "oversized"  # re-checked at execution against the rule that proposed it
    click(bot, "costbot_undo", str(req.id), "U0DAT0001", "z2")
    assert state_of(world.ids["etl-big"]) == ("running", "m5.4xlarge")


def test_snooze_tags_the_resource_and_the_next_scan_skips_it(bot_aws) -> None:  # type: ignore[no-untyped-def]
    bot, world, _ = bot_aws
    scan(bot)
    reply = click(bot, "costbot_snooze", world.key("gpu-dev-02"), MEMBER, "s1")
    assert "Snoozed gpu-dev-02 until 2026-12-05" in blocks_text(reply["blocks"])
    assert tags_of(world.ids["gpu-dev-02"])["costbot:snooze-until"] == "2026-12-05"
    again = scan(bot)
    assert "gpu-dev-02" not in {r.name for r in again.recommendations}


def test_not_mine_moves_it_to_the_owners_channel(bot_aws) -> None:  # type: ignore[no-untyped-def]
    bot, world, _ = bot_aws
    scan(bot)
    bot.stub.reset()
    click(bot, "costbot_not_mine", world.key("gpu-dev-02"), MEMBER, "n1")
    (moved,) = bot.stub.api_calls("chat.postMessage")
    assert moved.args["channel"] == "C0OWNERS1" and "gpu-dev-02" in blocks_text(moved.args["blocks"])
    assert bot.services.actions.store.recommendation_for(world.key("gpu-dev-02")).team is None


def test_protected_resources_cannot_be_acted_on(bot_aws) -> None:  # type: ignore[no-untyped-def]
    bot, world, proxy = bot_aws
    reply = click(bot, "costbot_stop", world.key("keep-me"), APPROVER, "p1")
    assert "keep-me is protected (costbot=protected)" in blocks_text(reply["blocks"])
    assert state_of(world.ids["keep-me"])[0] == "running" and proxy.counts["StopInstances"] == 0


def test_dry_run_changes_nothing_and_says_what_would_happen(aws, demo_store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    world = build_world()
    bot, server = start_bot(tmp_path, demo_store[0], {**CONFIG, "dry_run": True})
    try:
        bot.services.scans.scan()
        reply = click(bot, "costbot_stop", world.key("gpu-dev-02"), APPROVER, "d1")
        assert f"dry run: would stop {world.ids['gpu-dev-02']}; nothing was changed" in blocks_text(reply["blocks"])
        assert state_of(world.ids["gpu-dev-02"])[0] == "running"
        (entry, *_rest) = bot.services.actions.audit(1)
        assert entry.dry_run and entry.result == "succeeded"
    finally:
        server.close()
        bot.stub.stop()


def test_expired_request_cannot_execute(bot_aws) -> None:  # type: ignore[no-untyped-def]
    bot, world, proxy = bot_aws
    scan(bot)
    actions = bot.services.actions
    req = actions.request(world.key("gpu-dev-02"), "stop", MEMBER)
    actions.clock = lambda: datetime.now(UTC) + timedelta(hours=25)
    with pytest.raises(ActionNotAllowed, match="expired"):
        actions.approve(req.id, APPROVER)
    assert actions.store.request(req.id).status == "expired"
    assert state_of(world.ids["gpu-dev-02"])[0] == "running" and proxy.counts["StopInstances"] == 0


def test_endpoint_stop_scales_down_and_undo_scales_back(bot_aws) -> None:  # type: ignore[no-untyped-def]
    bot, world, _ = bot_aws
    scan(bot)
    sm = boto3.client("sagemaker", region_name=REGION)
    req = bot.services.actions.request(world.key("ranker-ep", "endpoint"), "stop", "U0VIS0001")
    assert req.status == "succeeded", req.error
    variant = sm.describe_endpoint(EndpointName="ranker-ep")["ProductionVariants"][0]
    assert variant.get("DesiredInstanceCount", variant.get("CurrentInstanceCount")) == 1
    bot.services.actions.undo(req.id, "U0VIS0001")
    variant = sm.describe_endpoint(EndpointName="ranker-ep")["ProductionVariants"][0]
    assert variant.get("DesiredInstanceCount", variant.get("CurrentInstanceCount")) == 2


def test_an_action_the_resource_does_not_support_is_refused_before_any_request(bot_aws) -> None:  # type: ignore[no-untyped-def]
    bot, world, proxy = bot_aws
    key = world.key("nb-research", "notebook")
    with pytest.raises(ActionNotAllowed, match="costbot cannot resize nb-research"):
        bot.services.actions.request(key, "resize", APPROVER, params={"to": "ml.t3.large"}, basis=("direct", "-"))
    assert bot.services.actions.store.latest_request(key) is None
    with pytest.raises(ActionNotAllowed, match="'snooze' is not an action costbot runs on request"):
        bot.services.actions.request(key, "snooze", APPROVER, basis=("direct", "-"))
    assert bot.services.actions.store.latest_request(key) is None and proxy.counts["StopNotebookInstance"] == 0


def test_notebook_stop(bot_aws) -> None:  # type: ignore[no-untyped-def]
    bot, world, _ = bot_aws
    scan(bot)
    req = bot.services.actions.request(world.key("nb-research", "notebook"), "stop", APPROVER)
    assert req.status == "succeeded", req.error
    sm = boto3.client("sagemaker", region_name=REGION)
    assert sm.describe_notebook_instance(NotebookInstanceName="nb-research")["NotebookInstanceStatus"] in (
        "Stopped", "Stopping")


def test_reconcile_settles_requests_left_executing(bot_aws) -> None:  # type: ignore[no-untyped-def]
    bot, world, _ = bot_aws
    store = bot.services.actions.store
    expires = datetime.now(UTC) + timedelta(hours=1)
    done, _ = store.create_request(resource_key=world.key("keep-me"), action="stop", team="team-ml",
                                   requested_by=APPROVER, status="executing", expires_at=expires)
    boto3.client("ec2", region_name=REGION).stop_instances(InstanceIds=[world.ids["keep-me"]])
    lost, _ = store.create_request(resource_key=world.key("train-01"), action="stop", team="team-ml",
                                   requested_by=APPROVER, status="executing", expires_at=expires)
    assert bot.services.actions.reconcile() == 2
    assert store.request(done.id).status == "succeeded"
    assert store.request(lost.id).status == "failed"
    assert "its process stopped before it took effect" in (store.request(lost.id).error or "")
    assert bot.services.actions.reconcile() == 0


def test_idle_and_audit_commands(bot_aws) -> None:  # type: ignore[no-untyped-def]
    from tests.signing import command_body

    bot, world, _ = bot_aws
    scan(bot)
    click(bot, "costbot_stop", world.key("gpu-dev-02"), APPROVER, "i0")
    status, _ = post(bot.events_url, command_body("idle team-ml", bot.stub.response_url("i1")), SECRET)
    assert status == 200
    post(bot.events_url, command_body("audit 5", bot.stub.response_url("i2")), SECRET)
    bot.stub.wait_for(lambda cs: {c.name for c in cs if c.kind == "response"} >= {"i1", "i2"}, timeout=30)
    idle = blocks_text(bot.stub.responses("i1")[0].args["blocks"])
    assert "nb-research" in idle and "gpu-dev-02" not in idle  # stopped: no longer open
    audit = blocks_text(bot.stub.responses("i2")[0].args["blocks"])
    assert f"<@{APPROVER}> stop `{world.ids['gpu-dev-02']}`: *succeeded*" in audit
