"""Actions under attack and carelessness, through the real HTTP path (signed clicks into the bot, moto server
behind a counting proxy, the Slack stub): stale buttons, concurrent and replayed clicks, a reconciler racing a
long resize, forged accounts and regions, cloud error text, snooze rights, and Slack being down."""

from __future__ import annotations

import csv
import json
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.state.actions_repository import SqlActionStore
from bot.adapters.state.database import make_engine
from bot.app import Application, main
from bot.config import Settings
from bot.services.actions import ActionService
from tests.conftest import TODAY
from tests.integration.aws_world import REGION, build_world, instance_metrics, launch, state_of, tags_of
from tests.integration.conftest import SECRET, RunningBot
from tests.integration.test_actions import (
    APPROVER,
    CONFIG,
    MEMBER,
    blocks_text,
    bot_env,
    buttons,
    click,
    start_bot,
)
from tests.signing import actions_body, command_body, post

ACCOUNT = "123456789012"
ADMIN = "U0ADMIN01"
DATA_APPROVER = "U0DAT0001"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    return request.getfixturevalue("pg_url") if request.param == "postgresql" else None


@pytest.fixture
def running(aws: Any, demo_store: tuple[Path, Path], tmp_path: Path) -> Iterator[tuple[RunningBot, Any, Any]]:
    world = build_world()
    bot, server = start_bot(tmp_path, demo_store[0], CONFIG)
    aws.reset()
    try:
        yield bot, world, aws
    finally:
        server.close()
        bot.stub.stop()


def message_to(bot: RunningBot, channel: str) -> Any:
    return next(c for c in bot.stub.api_calls("chat.postMessage") if c.args["channel"] == channel)


def block_of(blocks: list[dict[str, Any]], action_id: str, value: str) -> str:
    """The block id of the actions block holding this button (what Slack sends back on a click)."""
    return next(b["block_id"] for b in blocks if b["type"] == "actions"
                for e in b["elements"] if e["action_id"] == action_id and e.get("value") == value)


def clicks_together(bot: RunningBot, bodies: list[bytes]) -> None:
    """POST every body at once (each on its own thread) and wait for every answer."""
    barrier = threading.Barrier(len(bodies))

    def go(body: bytes) -> None:
        barrier.wait()
        status, _ = post(bot.events_url, body, SECRET)
        assert status == 200

    threads = [threading.Thread(target=go, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def requests_for(bot: RunningBot, key: str) -> list[Any]:
    store = bot.services.actions.store
    statuses = ["requested", "approved", "executing", "succeeded", "failed", "refused", "rejected", "expired"]
    return [r for r in store.requests_in(statuses) if r.resource_key == key]


# -- stale buttons are judged against what offered them, at execution ----------------------------------------
def test_a_stale_stop_after_a_later_scan_closed_it_is_refused_and_its_buttons_are_gone(running) -> None:  # type: ignore[no-untyped-def]
    bot, world, proxy = running
    bot.services.scans.scan()
    posted = message_to(bot, "C0TEAMML1")
    key = world.key("gpu-dev-02")
    source = block_of(posted.args["blocks"], "costbot_stop", key)
    assert source.startswith("rec:")
    instance_metrics(world.ids["gpu-dev-02"], cpu=35.0, gpu=88.0, net=90_000_000, hours=3)  # a job started
    bot.stub.reset()
    again = bot.services.scans.scan()
    assert "gpu-dev-02" not in {r.name for r in again.recommendations}
    (update,) = [c for c in bot.stub.api_calls("chat.update") if c.args["ts"] == posted.args.get("ts")
                 or c.args["channel"] == "C0TEAMML1"]
    assert (("costbot_stop", key) not in buttons(update.args["blocks"]))  # the message lost gpu-dev-02's buttons
    assert "Closed: gpu-dev-02 is busy again (CPU 35%)" in blocks_text(update.args["blocks"])
    reply = click(bot, "costbot_stop", key, APPROVER, "stale", block_id=source)
    assert "this recommendation is closed: gpu-dev-02 is busy again" in blocks_text(reply["blocks"])
    assert state_of(world.ids["gpu-dev-02"])[0] == "running"
    assert proxy.counts["StopInstances"] == 0


def test_a_budget_proposal_is_rechecked_against_the_budget_when_approved(aws, demo_store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    dev = launch("dev-box", "g5.xlarge", {"team": "ml", "env": "dev"})
    teams = dict(CONFIG["teams"])
    teams["team-ml"] = {**teams["team-ml"], "budget": {"monthly": 5000}}  # the demo team spends ~21k: over
    config = {**CONFIG, "teams": teams, "enforcement": [{"scope": "team-ml", "propose_percent": 100}]}
    bot, server = start_bot(tmp_path, demo_store[0], config)
    try:
        assert bot.services.enforcement.enforce() == {"team-ml": ["proposed 1"]}
        posted = message_to(bot, "C0TEAMML1")
        key = f"aws|{ACCOUNT}|{REGION}|ec2|{dev}"
        click(bot, "costbot_stop", key, MEMBER, "b1", block_id=block_of(posted.args["blocks"], "costbot_stop", key))
        (req,) = requests_for(bot, key)
        assert req.status == "requested" and req.params["basis"] == "budget"
        bot.services.budgets.set_budget("team-ml", Decimal(10_000_000), ADMIN)  # the budget is raised
        reply = click(bot, "costbot_approve", str(req.id), APPROVER, "b2")
        text = blocks_text(reply["blocks"])
        assert "stop refused: team-ml's forecast is 0% of its budget now, under the 100% that called for this" in text
        assert state_of(dev)[0] == "running" and aws.counts["StopInstances"] == 0
    finally:
        server.close()
        bot.stub.stop()


def _anomaly_billing(path: Path, instance_id: str, today: date) -> None:
    """40 days of one EC2 instance's cost for team ml: about $24 a day, then $240 yesterday."""
    arn = f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{instance_id}"
    fields = ["BillingAccountId", "SubAccountId", "ProviderName", "BillingPeriodStart", "ChargePeriodStart",
              "ChargePeriodEnd", "ChargeCategory", "BilledCost", "EffectiveCost", "ListCost", "BillingCurrency",
              "ServiceName", "ServiceCategory", "ResourceId", "ResourceName", "RegionId", "Tags"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        for i in range(40, 0, -1):
            day = today - timedelta(days=i)
            cost = "240.00" if i == 1 else ("23.00" if i % 2 else "25.00")
            writer.writerow({"BillingAccountId": ACCOUNT, "SubAccountId": ACCOUNT, "ProviderName": "AWS",
                             "BillingPeriodStart": f"{day.replace(day=1)}T00:00:00Z",
                             "ChargePeriodStart": f"{day}T00:00:00Z",
                             "ChargePeriodEnd": f"{day + timedelta(days=1)}T00:00:00Z", "ChargeCategory": "Usage",
                             "BilledCost": cost, "EffectiveCost": cost, "ListCost": cost, "BillingCurrency": "USD",
                             "ServiceName": "Amazon Elastic Compute Cloud", "ServiceCategory": "Compute",
                             "ResourceId": arn, "ResourceName": "runaway", "RegionId": REGION,
                             "Tags": json.dumps({"team": "ml"})})


def test_an_anomaly_stop_is_rechecked_against_the_anomaly(aws, tmp_path) -> None:  # type: ignore[no-untyped-def]
    runaway = launch("runaway", "g5.12xlarge", {"team": "ml"})
    data = tmp_path / "data"
    billing = tmp_path / "billing" / "focus.csv"
    _anomaly_billing(billing, runaway, date.fromisoformat(TODAY))
    loader = Application(Settings({"COSTBOT_DATA_DIR": str(data), "COSTBOT_TODAY": TODAY}))
    loader.use_cases.ingest.ingest([billing], source="test")
    loader.close()
    bot, server = start_bot(tmp_path, data, CONFIG)
    try:
        (anomaly,) = bot.services.anomalies.check_anomalies()
        posted = message_to(bot, "C0TEAMML1")
        key = f"aws|{ACCOUNT}|{REGION}|ec2|{runaway}"
        assert block_of(posted.args["blocks"], "costbot_stop", key) == f"anomaly:{anomaly.id}"
        click(bot, "costbot_stop", key, MEMBER, "a1", block_id=f"anomaly:{anomaly.id}")
        (req,) = requests_for(bot, key)
        assert req.status == "requested" and req.params["basis"] == "anomaly" and req.team == "team-ml"
        click(bot, "costbot_acknowledge", str(anomaly.id), APPROVER, "a2")
        reply = click(bot, "costbot_approve", str(req.id), APPROVER, "a3")
        day = date.fromisoformat(TODAY) - timedelta(days=1)
        assert (f"stop refused: the Amazon Elastic Compute Cloud anomaly of {day:%b %d} was acknowledged as "
                "expected") in blocks_text(reply["blocks"])
        assert state_of(runaway)[0] == "running" and aws.counts["StopInstances"] == 0
        # a new click on the acknowledged anomaly's button is refused at once
        again = click(bot, "costbot_stop", key, APPROVER, "a4", block_id=f"anomaly:{anomaly.id}")
        assert "acknowledged as expected" in blocks_text(again["blocks"])
    finally:
        server.close()
        bot.stub.stop()


# -- exactly once per resource ----------------------------------------------------------------------------------
def test_fifty_concurrent_stop_clicks_make_one_stop_call(aws, demo_store, tmp_path, database_url) -> None:  # type: ignore[no-untyped-def]
    world = build_world()
    bot, server = start_bot(tmp_path, demo_store[0], CONFIG, database_url)
    try:
        bot.services.scans.scan()
        aws.reset()
        key = world.key("gpu-dev-02")
        bodies = [actions_body("costbot_stop", key, bot.stub.response_url(f"s{i}"),
                               user_id=APPROVER if i % 2 else ADMIN) for i in range(50)]
        clicks_together(bot, bodies)
        bot.stub.wait_for(lambda cs: len([c for c in cs if c.kind == "response"]) == 50, timeout=120)
        assert aws.counts["StopInstances"] == 1
        assert state_of(world.ids["gpu-dev-02"])[0] == "stopped"
        (req,) = requests_for(bot, key)  # one request for fifty clicks
        assert req.status == "succeeded"
        replies = [blocks_text(c.args["blocks"]) for c in bot.stub.responses()]
        assert all("Something went wrong" not in r for r in replies)
    finally:
        server.close()
        bot.stub.stop()


def test_a_replayed_signed_request_is_acted_on_once(running) -> None:  # type: ignore[no-untyped-def]
    """The same signed bytes twenty times: the gate acknowledges the copies and acts on one."""
    bot, world, proxy = running
    bot.services.scans.scan()
    proxy.reset()
    key = world.key("gpu-dev-02")
    body = actions_body("costbot_stop", key, bot.stub.response_url("replay"), user_id=APPROVER)
    at = int(time.time())
    statuses = []
    for _ in range(20):
        status, answer = post(bot.events_url, body, SECRET, timestamp=at)
        statuses.append((status, answer))
    assert statuses == [(200, b"")] * 20
    bot.stub.wait_for(lambda cs: any(c.kind == "response" for c in cs), timeout=60)
    time.sleep(1.0)  # nothing else follows
    assert len(bot.stub.responses("replay")) == 1
    assert proxy.counts["StopInstances"] == 1
    assert [r.status for r in requests_for(bot, key)] == ["succeeded"]


def test_a_click_sent_again_with_new_signatures_is_that_click(running) -> None:  # type: ignore[no-untyped-def]
    """Slack's retries (and replays re-signed) carry new timestamps: one click, one request, one answer."""
    bot, world, proxy = running
    bot.services.scans.scan()
    proxy.reset()
    key = world.key("gpu-dev-02")
    body = actions_body("costbot_stop", key, bot.stub.response_url("again"), user_id=APPROVER)
    now = int(time.time())
    barrier = threading.Barrier(20)

    def send(i: int) -> None:
        barrier.wait()
        assert post(bot.events_url, body, SECRET, timestamp=now - i)[0] == 200

    threads = [threading.Thread(target=send, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bot.stub.wait_for(lambda cs: len([c for c in cs if c.kind == "response"]) == 20, timeout=120)
    assert proxy.counts["StopInstances"] == 1
    (req,) = requests_for(bot, key)
    assert req.status == "succeeded"
    audit = [e for e in bot.services.actions.audit(100) if e.resource_key == key]
    assert [e.result for e in audit] == ["succeeded", "approved"]
    texts = {blocks_text(c.args["blocks"]) for c in bot.stub.responses("again")}
    assert all("Something went wrong" not in t for t in texts)


def test_a_refused_click_sent_again_gets_the_same_refusal(running) -> None:  # type: ignore[no-untyped-def]
    bot, world, _ = running
    key = world.key("keep-me")
    body = actions_body("costbot_stop", key, bot.stub.response_url("protected"), user_id=APPROVER)
    now = int(time.time())
    for i in range(3):
        assert post(bot.events_url, body, SECRET, timestamp=now - i)[0] == 200
        bot.stub.wait_for(lambda cs, n=i: len([c for c in cs if c.name == "protected"]) == n + 1, timeout=30)
    replies = [blocks_text(c.args["blocks"]) for c in bot.stub.responses("protected")]
    assert all("keep-me is protected (costbot=protected)" in r for r in replies), replies


def test_ten_resize_clicks_make_one_resize(aws, demo_store, tmp_path, database_url) -> None:  # type: ignore[no-untyped-def]
    world = build_world()
    bot, server = start_bot(tmp_path, demo_store[0], CONFIG, database_url)
    try:
        bot.services.scans.scan()
        aws.reset()
        key = world.key("etl-big")
        bodies = [actions_body("costbot_resize", key, bot.stub.response_url(f"z{i}"), user_id=DATA_APPROVER)
                  for i in range(10)]
        clicks_together(bot, bodies)
        bot.stub.wait_for(lambda cs: len([c for c in cs if c.kind == "response"]) == 10, timeout=120)
        assert (aws.counts["StopInstances"], aws.counts["ModifyInstanceAttribute"], aws.counts["StartInstances"]) \
            == (1, 1, 1)
        assert state_of(world.ids["etl-big"]) == ("running", "m5.2xlarge")
        assert [r.status for r in requests_for(bot, key)] == ["succeeded"]
        # a later click on the same (now stale) button never resizes to the type it already has
        reply = click(bot, "costbot_resize", key, DATA_APPROVER, "z-late")
        text = blocks_text(reply["blocks"])
        assert "m5.2xlarge to m5.2xlarge" not in text and aws.counts["ModifyInstanceAttribute"] == 1
    finally:
        server.close()
        bot.stub.stop()


def test_the_reconciler_leaves_a_long_resize_to_its_live_executor(running, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bot, world, proxy = running
    bot.services.scans.scan()
    actions = bot.services.actions
    actions.lease = timedelta(seconds=1)  # heartbeats every 0.25 s
    key = world.key("etl-big")
    proxy.delay("ModifyInstanceAttribute", 4.0)  # a resize that takes a while
    done = threading.Thread(target=click, args=(bot, "costbot_resize", key, DATA_APPROVER, "long"))
    done.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(r.status == "executing" for r in requests_for(bot, key)):
        time.sleep(0.05)
    (req,) = requests_for(bot, key)
    assert req.status == "executing"
    time.sleep(1.5)  # longer than a lease: only a heartbeat keeps it out of reconciliation
    other = ActionService(actions.providers, SqlActionStore(make_engine(bot.app.settings.database_url)),
                          bot.app.config, None, bot.app.today, lease=timedelta(seconds=1))
    assert other.reconcile() == 0
    assert actions.store.request(req.id).status == "executing"
    done.join(timeout=60)
    assert actions.store.request(req.id).status == "succeeded"
    assert state_of(world.ids["etl-big"]) == ("running", "m5.2xlarge")
    results = [e.result for e in actions.audit(50) if e.request_id == req.id]
    assert "failed" not in results and results.count("succeeded") == 1


# -- where to act comes from the config, never from a button ---------------------------------------------------
@pytest.mark.parametrize("forged, why", [
    ("aws|999999999999|us-east-1|ec2|{id}", "account 999999999999 is not configured for costbot's actions"),
    ("aws|123456789012|eu-west-3|ec2|{id}", "region eu-west-3 is not configured for costbot's actions"),
    ("aws|123456789012|us-east-1|rds|{id}", "'rds' resources of 'aws' are not something costbot acts on"),
    ("aws|x", "this button does not name a resource costbot knows"),
])
def test_forged_accounts_regions_and_kinds_are_refused(running, forged: str, why: str) -> None:  # type: ignore[no-untyped-def]
    bot, world, proxy = running
    proxy.reset()
    key = forged.format(id=world.ids["gpu-dev-02"])
    reply = click(bot, "costbot_stop", key, ADMIN, "forged")
    assert why in blocks_text(reply["blocks"])
    assert proxy.counts["StopInstances"] == 0 and proxy.counts["AssumeRole"] == 0
    assert state_of(world.ids["gpu-dev-02"])[0] == "running"
    assert [e for e in bot.services.actions.audit(50) if e.resource_key == key] == []


@pytest.mark.parametrize("action_id, value", [("costbot_approve", "abc"), ("costbot_reject", "1e9"),
                                              ("costbot_undo", "²"), ("costbot_acknowledge", "-1")])
def test_buttons_with_a_malformed_number_get_a_specific_error(running, action_id: str, value: str) -> None:  # type: ignore[no-untyped-def]
    bot, _, _ = running
    reply = click(bot, action_id, value, APPROVER, "num")
    text = blocks_text(reply["blocks"])
    assert "this button does not carry a" in text and "Something went wrong" not in text


# -- what users read about a cloud failure -----------------------------------------------------------------
DENIED = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>'
    "You are not authorized to perform this operation. User: arn:aws:sts::123456789012:assumed-role/"
    "costbot-actions/costbot is not authorized to perform: ec2:StopInstances on resource: "
    "arn:aws:ec2:us-east-1:123456789012:instance/i-0abc because no identity-based policy allows the "
    "ec2:StopInstances action. Encoded authorization failure message: ZXhhbXBsZS1lbmNvZGVkLW1lc3NhZ2U"
    "</Message></Error></Errors><RequestID>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestID></Response>"
)


def test_cloud_error_text_stays_out_of_slack(running, caplog, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    bot, world, proxy = running
    bot.services.scans.scan()
    posted = message_to(bot, "C0TEAMML1")
    proxy.fail("StopInstances", 403, DENIED)
    key = world.key("gpu-dev-02")
    with caplog.at_level("WARNING", logger="costbot"):
        reply = click(bot, "costbot_stop", key, APPROVER, "denied")
    post(bot.events_url, command_body("audit 5", bot.stub.response_url("audit")), SECRET)
    bot.stub.wait_for(lambda cs: any(c.kind == "response" and c.name == "audit" for c in cs), timeout=30)
    update = [c for c in bot.stub.api_calls("chat.update") if c.args["ts"] == posted.args.get("ts")
              or c.args["channel"] == "C0TEAMML1"][-1]
    shown = {"reply": blocks_text(reply["blocks"]), "message": blocks_text(update.args["blocks"]),
             "audit": blocks_text(bot.stub.responses("audit")[0].args["blocks"])}
    for where, text in shown.items():
        assert "AWS ec2 StopInstances failed: costbot's role is not allowed to do this (UnauthorizedOperation)" \
            in text, where
        for secret in ("arn:aws", "assumed-role", "Encoded authorization", "ZXhhbXBsZS1lbmNvZGVkLW1lc3NhZ2U"):
            assert secret not in text, (where, secret)
    (entry,) = [e for e in bot.services.actions.audit(10) if e.result == "failed"]
    reference = entry.error.rsplit("(ref ", 1)[1].rstrip(")")
    assert "Encoded authorization failure message" in (entry.detail or "")  # kept for operators
    assert any(reference in r.getMessage() and "assumed-role" in r.getMessage() for r in caplog.records)
    assert state_of(world.ids["gpu-dev-02"])[0] == "running"
    # operators read the detail in a terminal
    settings = bot.app.settings
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("COSTBOT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("COSTBOT_CONFIG", str(settings.config_path))
    monkeypatch.setenv("COLUMNS", "400")
    capsys.readouterr()
    assert main(["audit", "5"]) == 0
    assert "Encoded authorization" not in capsys.readouterr().out
    assert main(["audit", "5", "--details"]) == 0
    assert "Encoded authorization failure message" in capsys.readouterr().out


# -- snooze rights ------------------------------------------------------------------------------------------
def test_only_the_owning_team_snoozes_and_never_a_protected_resource(running) -> None:  # type: ignore[no-untyped-def]
    bot, world, _ = running
    bot.services.scans.scan()
    other = click(bot, "costbot_snooze", world.key("gpu-dev-02"), DATA_APPROVER, "o1")
    assert "only team-ml's members and approvers can snooze gpu-dev-02" in blocks_text(other["blocks"])
    assert "costbot:snooze-until" not in tags_of(world.ids["gpu-dev-02"])
    protected = click(bot, "costbot_snooze", world.key("keep-me"), ADMIN, "o2")
    assert "keep-me is protected" in blocks_text(protected["blocks"])
    assert "costbot:snooze-until" not in tags_of(world.ids["keep-me"])
    posted = message_to(bot, "C0TEAMML1")
    mine = click(bot, "costbot_snooze", world.key("gpu-dev-02"), MEMBER, "o3")
    assert "Snoozed gpu-dev-02 until 2026-12-05" in blocks_text(mine["blocks"])
    update = [c for c in bot.stub.api_calls("chat.update") if c.args.get("ts") == posted.args.get("ts")
              or c.args["channel"] == "C0TEAMML1"][-1]
    assert f"Closed: snoozed by <@{MEMBER}> until 2026-12-05" in blocks_text(update.args["blocks"])


def test_a_dry_run_snooze_says_it_changed_nothing(aws, demo_store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    world = build_world()
    bot, server = start_bot(tmp_path, demo_store[0], {**CONFIG, "dry_run": True})
    try:
        reply = click(bot, "costbot_snooze", world.key("gpu-dev-02"), MEMBER, "d1")
        assert ("Dry run: would tag gpu-dev-02 costbot:snooze-until=2026-12-05; nothing was changed"
                in blocks_text(reply["blocks"]))
        assert "costbot:snooze-until" not in tags_of(world.ids["gpu-dev-02"])
    finally:
        server.close()
        bot.stub.stop()


# -- Slack down when approvers must be told ---------------------------------------------------------------------
def test_an_approval_request_slack_could_not_post_is_posted_later(running) -> None:  # type: ignore[no-untyped-def]
    bot, world, proxy = running
    bot.services.scans.scan()
    bot.stub.reset()
    bot.stub.fail("chat.postMessage", 500, times=50)
    key = world.key("gpu-dev-02")
    reply = click(bot, "costbot_stop", key, MEMBER, "o1")
    assert "Slack could not be reached to tell the approvers yet" in blocks_text(reply["blocks"])
    (req,) = requests_for(bot, key)
    assert req.status == "requested" and req.message_ts is None
    bot.stub.reset()  # Slack is back
    bot.services.actions.reconcile()  # the upkeep job
    (asked,) = bot.stub.api_calls("chat.postMessage")
    assert asked.args["channel"] == "C0TEAMML1" and f"<@{MEMBER}> asks to *stop* *gpu-dev-02*" in \
        blocks_text(asked.args["blocks"])
    assert bot.services.actions.store.request(req.id).message_ts is not None
    bot.services.actions.reconcile()
    assert len(bot.stub.api_calls("chat.postMessage")) == 1  # told once
    assert proxy.counts["StopInstances"] == 0


def test_a_second_process_sees_the_same_state(running, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Replicas share one state database: a second bot process sees the open request and joins it."""
    bot, world, proxy = running
    bot.services.scans.scan()
    key = world.key("gpu-dev-02")
    first = bot.services.actions.request(key, "stop", MEMBER)
    env = bot_env(tmp_path, Path(bot.app.settings.data_dir), CONFIG, bot.stub, bot.app.settings.database_url)
    second = Application(Settings(env)).use_cases
    joined = second.actions.request(key, "stop", MEMBER)
    assert joined.id == first.id and joined.status == "requested"
    done = second.actions.request(key, "stop", APPROVER)  # an approver's click approves the waiting one
    assert done.id == first.id and done.status == "succeeded"
    assert proxy.counts["StopInstances"] == 1


def test_a_resize_is_refused_when_the_instance_is_no_longer_oversized(running) -> None:  # type: ignore[no-untyped-def]
    bot, world, proxy = running
    bot.services.scans.scan()
    instance_metrics(world.ids["etl-big"], cpu=80.0, gpu=None, net=40_000_000, hours=8 * 24)  # now it works hard
    proxy.reset()
    reply = click(bot, "costbot_resize", world.key("etl-big"), DATA_APPROVER, "busy-resize")
    assert "resize refused: etl-big is busy again (p95 80% over 7 days)" in blocks_text(reply["blocks"])
    assert state_of(world.ids["etl-big"]) == ("running", "m5.4xlarge")
    assert proxy.counts["ModifyInstanceAttribute"] == 0 and proxy.counts["StopInstances"] == 0


def test_only_the_owning_team_passes_a_finding_on_as_not_theirs(running) -> None:  # type: ignore[no-untyped-def]
    bot, world, _ = running
    bot.services.scans.scan()
    reply = click(bot, "costbot_not_mine", world.key("gpu-dev-02"), DATA_APPROVER, "nm1")
    assert "only team-ml's members and approvers can pass gpu-dev-02 on as not theirs" in blocks_text(reply["blocks"])
    assert bot.services.actions.store.recommendation_for(world.key("gpu-dev-02")).team == "team-ml"


def test_an_approved_request_no_process_started_is_run_by_the_upkeep(running) -> None:  # type: ignore[no-untyped-def]
    """A process stopped between approving and starting: the upkeep job runs the request (re-checked)."""
    from datetime import UTC, datetime

    bot, world, proxy = running
    bot.services.scans.scan()
    actions = bot.services.actions
    key = world.key("gpu-dev-02")
    req, created = actions.store.create_request(
        resource_key=key, action="stop", team="team-ml", requested_by=APPROVER, status="approved",
        approved_by=APPROVER, expires_at=datetime.now(UTC) + timedelta(hours=1),
        params={"basis": "idle", "basis_ref": "1", "from_state": "running", "count": "1"})
    assert created
    actions.lease = timedelta(seconds=0)  # it has been waiting longer than a lease
    actions.reconcile()
    assert actions.store.request(req.id).status == "succeeded"
    assert state_of(world.ids["gpu-dev-02"])[0] == "stopped" and proxy.counts["StopInstances"] == 1


def test_concurrent_budget_sets_each_get_an_answer(bot: RunningBot, stub) -> None:  # type: ignore[no-untyped-def]
    bodies = [command_body(f"budget set project:racing {1000 + i}", stub.response_url(f"bs{i}"), user_id=ADMIN)
              for i in range(8)]
    clicks_together(bot, bodies)
    stub.wait_for(lambda cs: len({c.name for c in cs if c.kind == "response" and c.name.startswith("bs")}) == 8,
                  timeout=60)
    texts = [blocks_text(c.args["blocks"]) for c in stub.responses() if c.name.startswith("bs")]
    assert all("Something went wrong" not in t for t in texts), texts
    assert bot.services.budgets.budget_for("project:racing") in {Decimal(1000 + i) for i in range(8)}
