"""`costbot estimate` end to end: committed plans (as `terraform show -json` writes them) priced from the bundled
table give exact monthly figures; budget headroom from billing data with known daily costs; exit codes 0/1/2;
the markdown of a PR comment; the approval path through the Slack stub over signed HTTP; `costbot guard`."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import Application
from bot.config import Settings
from bot.web import make_server, run_until_closed
from tests.conftest import TODAY, CliResult
from tests.integration.conftest import APPROVER, MEMBER, SECRET, RunningBot
from tests.signing import actions_body, post
from tests.slack_stub import SlackStub

PLANS = Path(__file__).resolve().parents[1] / "fixtures" / "terraform"
ML_STACK, P5, SMALL = PLANS / "ml_stack.json", PLANS / "p5_cluster.json", PLANS / "small_change.json"
USAGE = PLANS / "costbot-estimate.yml"


def estimate_json(cli: Callable[..., CliResult], *args: str) -> tuple[int, dict[str, Any]]:
    result = cli("estimate", *args, "--format", "json")
    return result.code, json.loads(result.out)


def test_fixture_plan_gives_exact_monthly_figures(world) -> None:  # type: ignore[no-untyped-def]
    code, out = estimate_json(world(), str(ML_STACK), "--usage", str(USAGE))
    assert code == 0 and out["verdict"] == "pass" and out["passed"] is True
    lines = {ln["address"]: ln for ln in out["lines"]}
    # g5.12xlarge $5.672/h x 730 h = $4,140.56, plus a 200 GB gp3 root volume at $0.08 = $16.00
    assert lines["aws_instance.trainer[0]"]["monthly_delta"] == 4156.56
    assert lines["aws_instance.trainer[1]"]["monthly_delta"] == 4156.56
    assert lines["aws_ebs_volume.datasets"]["monthly_delta"] == 40.00  # 500 GB gp3
    # 2 x ml.g5.2xlarge ($1.515/h) + 1 x ml.m5.xlarge ($0.23/h), 730 h each
    assert lines["aws_sagemaker_endpoint_configuration.fraud"]["monthly_delta"] == 2379.80
    assert lines["aws_sagemaker_notebook_instance.research"]["monthly_delta"] == 32.00  # $0.20/h x 160 h (usage)
    asg = lines["aws_autoscaling_group.gpu_workers"]  # 3 x g4dn.xlarge from its launch template, tagged vision
    assert (asg["monthly_delta"], asg["team"]) == (1151.94, "team-vision")
    dev = lines["aws_instance.dev"]  # t3.large -> m5.xlarge, the 30 GB gp3 root volume on both sides
    assert (dev["monthly_before"], dev["monthly_after"], dev["monthly_delta"]) == (63.14, 142.56, 79.42)
    legacy = lines["aws_instance.legacy"]  # m5.large and 50 GB gp2 destroyed
    assert (legacy["monthly_delta"], legacy["team"]) == (-75.08, "team-data")
    job = lines["training_job.bert-finetune"]  # 2 x ml.p3.2xlarge ($3.825/h) x 10 h, from the usage file
    assert (job["monthly_delta"], job["one_off"], job["team"]) == (0.0, 76.50, "team-ml")
    mystery = lines["aws_instance.mystery"]  # an unknown type is its own line, never a silent 0
    assert mystery["unpriced"] == "no price for x9.mega in us-east-1" and mystery["monthly_delta"] == 0.0
    assert "aws_instance.bastion" not in lines  # no-op
    assert {s["address"] for s in out["skipped"]} == {"aws_sagemaker_endpoint.fraud",
                                                      "aws_launch_template.gpu_workers", "aws_s3_bucket.artifacts"}
    assert out["monthly_delta"] == 11921.20 and out["one_off"] == 76.50
    heads = {h["team"]: h for h in out["headroom"]}
    # ml: budget 10,000 - forecast 3,000 = 7,000; the change: 10,844.344 x 3/30 days left + 76.50 one-off
    assert heads["team-ml"] == {"team": "team-ml", "budget": 10000.0, "month_to_date": 2700.0, "forecast": 3000.0,
                                "before": 7000.0, "change_this_month": 1160.93, "after": 5839.07}
    assert (heads["team-vision"]["before"], heads["team-vision"]["after"]) == (500.0, 384.81)
    assert (heads["team-data"]["change_this_month"], heads["team-data"]["after"]) == (-7.51, 407.51)
    assert out["price_sources"] == ["bundled table (us-east-1, 2025)"]


def test_markdown_puts_the_verdict_first_and_folds_the_table(world) -> None:  # type: ignore[no-untyped-def]
    result = world()("estimate", str(ML_STACK), "--usage", str(USAGE), "--format", "markdown")
    assert result.code == 0
    text = result.out
    assert text.splitlines()[0] == "### ✅ costbot: pass: +$11,921.20/month and $76.50 one-off"
    assert "| team-ml | $10,000.00 | $3,000.00 | $7,000.00 | +$1,160.93 | $5,839.07 |" in text
    assert "<details><summary>10 resources priced · prices: bundled table (us-east-1, 2025)</summary>" in text
    assert text.index("| team-ml |") < text.index("<details>") < text.index("`aws_instance.trainer[0]`")
    assert ("| `aws_instance.trainer[0]` | create: g5.12xlarge + gp3 200 GB | team-ml | $0.00 | $4,156.56 | "
            "+$4,156.56 | – |") in text
    assert ("| `aws_instance.mystery` | create | team-ml | **unpriced**: no price for x9.mega in us-east-1 "
            "|  |  |  |") in text
    assert "| `aws_instance.legacy` | delete: m5.large + gp2 50 GB | team-data | $75.08 | $0.00 | -$75.08 | – |" in text
    assert text.rstrip().endswith("</sub>") and "</details>" in text


def test_policy_failures_exit_1_and_say_why(world) -> None:  # type: ignore[no-untyped-def]
    policy = {"prices": "bundled", "max_monthly_increase": 10000}
    code, out = estimate_json(world(estimate=policy), str(ML_STACK), "--usage", str(USAGE))
    assert code == 1 and out["verdict"] == "needs approval"
    assert [f["reason"] for f in out["findings"]] == [
        "the change adds $11,921.20/month, over the $10,000.00 a change may add",
        "the change adds $11,921.20/month, over the $10,000.00 a change may add"]
    assert [f["team"] for f in out["findings"]] == ["team-ml", "team-vision"]

    markdown = world(estimate=policy)("estimate", str(ML_STACK), "--usage", str(USAGE), "--format", "markdown")
    assert markdown.code == 1
    assert markdown.out.splitlines()[:3] == [
        "### ⏳ costbot: needs approval: +$11,921.20/month and $76.50 one-off", "",
        "- the change adds $11,921.20/month, over the $10,000.00 a change may add"]
    assert "Run again with `--request-approval` to ask the team's approvers in Slack." in markdown.out

    code, out = estimate_json(world(), str(P5))  # p5 needs an approval, and leaves team-ml over budget
    assert code == 1 and out["verdict"] == "needs approval"
    assert [f["reason"] for f in out["findings"]] == [
        "aws_instance.llm_pretrain uses the instance family p5, which needs an approval",
        "team-ml would be $185.36 over its budget this month"]
    assert out["lines"][0]["monthly_delta"] == 71853.60  # p5.48xlarge $98.32/h x 730 + 1,000 GB gp3

    forbidden = {"prices": "bundled", "forbidden_families": ["p5"], "budget_cap": False}
    code, out = estimate_json(world(estimate=forbidden), str(P5))
    assert code == 1 and out["verdict"] == "over policy"
    assert out["findings"] == [{"team": "team-ml", "approvable": False,
                                "reason": "aws_instance.llm_pretrain uses the forbidden instance family p5"}]
    table = world(estimate=forbidden)("estimate", str(P5), "--request-approval")
    assert table.code == 1 and "not asking for an approval: the change is over policy" in table.err

    assert world(estimate={"prices": "bundled"})("estimate", str(SMALL)).code == 0


def test_bad_input_exits_2_with_the_file_and_the_problem(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli = world()
    (tmp_path / "broken.json").write_text('{"format_version": "1.2", "resource_changes": [')
    (tmp_path / "state.json").write_text('{"format_version": "1.0", "values": {"root_module": {}}}')
    (tmp_path / "binary.plan").write_bytes(b"PK\x03\x04\x14\x00\x08\x08\x08\x00\xff\xfe")
    (tmp_path / "usage.yml").write_text("training_jobs:\n  - {name: x, instance_type: ml.p3.2xlarge, hours: 3}\n")
    cases = [
        (("estimate", str(tmp_path / "broken.json")), "broken.json: not valid JSON (line 1, column 48: Expecting "
                                                       "value)"),
        (("estimate", str(tmp_path / "state.json")), "state.json: a state, not a plan"),
        (("estimate", str(tmp_path / "binary.plan")), "binary.plan: not a JSON plan (a binary plan file?"),
        (("estimate", str(tmp_path / "missing.json")), "missing.json: cannot read the plan"),
        (("estimate", str(SMALL), "--usage", str(tmp_path / "usage.yml")),
         "usage.yml: training_jobs.0.max_hours: required key is missing; training_jobs.0.hours: unknown key"),
        (("estimate", str(SMALL), "--format", "html"), "--format must be one of table, json, markdown, got 'html'"),
    ]
    for args, message in cases:
        result = cli(*args)
        assert result.code == 2, (args, result.err)
        assert message in " ".join(result.err.split()), result.err
        assert result.out == ""


# -- the approval path: Slack stub, the real bot over signed HTTP, the CLI against the same state ---------------------
@pytest.fixture
def approval_world(world, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[RunningBot, Any]]:  # type: ignore[no-untyped-def]
    cli = world()
    stub = SlackStub().start()
    stub.channels = {"team-ml": "C0TEAMML1", "team-vision": "C0TEAMVIS"}
    env = {"COSTBOT_DATA_DIR": str(tmp_path / "data"), "COSTBOT_TODAY": TODAY,
           "COSTBOT_CONFIG": str(tmp_path / "costbot.yml"), "DATABASE_URL": f"sqlite:///{tmp_path / 'state.db'}",
           "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": stub.api_url}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    application = Application(Settings(env))
    server = make_server(application.wsgi(application.slack_app()), "127.0.0.1", 0)
    threading.Thread(target=run_until_closed, args=(server,), daemon=True).start()
    try:
        yield RunningBot(f"http://127.0.0.1:{server.effective_port}", stub, application, None), cli
    finally:
        server.close()
        stub.stop()
        application.close()


def _click(bot: RunningBot, action_id: str, value: str, user: str, rid: str) -> str:
    status, _ = post(bot.events_url, actions_body(action_id, value, bot.stub.response_url(rid), user_id=user,
                                                  channel_id="C0TEAMML1", block_id=f"plan:{value}"), SECRET)
    assert status == 200
    bot.stub.wait_for(lambda cs: any(c.kind == "response" and c.name == rid for c in cs), timeout=30)
    return str(bot.stub.responses(rid)[0].args["text"])


def _text(blocks: list[dict[str, Any]]) -> str:
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


def test_approval_round_trip_through_slack(approval_world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bot, cli = approval_world
    first = cli("estimate", str(P5), "--request-approval", "--title", "PR #42: LLM pretraining cluster")
    assert first.code == 1 and "needs approval" in first.out
    (posted,) = bot.stub.api_calls("chat.postMessage")
    assert posted.args["channel"] == "C0TEAMML1"
    text = _text(posted.args["blocks"])
    assert "*+$71,853.60/month* for *team-ml*" in text and "PR #42: LLM pretraining cluster" in text
    assert "uses the instance family p5, which needs an approval" in text
    assert f"<@{APPROVER}> <@U0ADMIN01>: only you can decide" in text
    buttons = [(e["action_id"], e["value"]) for b in posted.args["blocks"] if b["type"] == "actions"
               for e in b["elements"]]
    (approval_id,) = {v for _, v in buttons}
    assert [a for a, _ in buttons] == ["costbot_plan_approve", "costbot_plan_reject"]
    assert "approval for team-ml: requested (<#C0TEAMML1>, request" in first.err

    again = cli("estimate", str(P5), "--request-approval")  # the same plan: no second message
    assert again.code == 1 and len(bot.stub.api_calls("chat.postMessage")) == 1

    refused = _click(bot, "costbot_plan_approve", approval_id, MEMBER, "member")
    assert "only team-ml's approvers" in refused and bot.stub.api_calls("chat.update") == []
    assert cli("estimate", str(P5)).code == 1

    approved = _click(bot, "costbot_plan_approve", approval_id, APPROVER, "approver")
    assert approved.startswith(":white_check_mark: Approved")
    (update,) = bot.stub.api_calls("chat.update")
    stored = bot.services.estimates.approvals.approval(int(approval_id))
    assert (update.args["channel"], update.args["ts"]) == ("C0TEAMML1", stored.message_ts)  # updated in place
    updated = _text(update.args["blocks"])
    assert f"*Approved* by <@{APPROVER}>" in updated
    assert not any(b["type"] == "actions" for b in update.args["blocks"])

    code, out = estimate_json(cli, str(P5))
    assert code == 0 and out["verdict"] == "approved"
    assert out["decisions"][0]["status"] == "approved" and out["decisions"][0]["by"] == APPROVER
    late = _click(bot, "costbot_plan_reject", approval_id, APPROVER, "late")
    assert f"already approved by <@{APPROVER}>" in late

    # a different plan is a different approval: rejected, it keeps failing
    changed = json.loads(P5.read_text())
    changed["resource_changes"][0]["change"]["after"]["root_block_device"][0]["volume_size"] = 2000
    other = tmp_path / "p5_bigger.json"
    other.write_text(json.dumps(changed))
    assert cli("estimate", str(other), "--request-approval").code == 1
    second = bot.stub.api_calls("chat.postMessage")[-1]
    (value,) = {e["value"] for b in second.args["blocks"] if b["type"] == "actions" for e in b["elements"]}
    assert value != approval_id
    assert _click(bot, "costbot_plan_reject", value, APPROVER, "reject").startswith(":x: Rejected")
    code, out = estimate_json(cli, str(other))
    assert code == 1 and out["verdict"] == "rejected"


def test_guard_refuses_and_allows_as_configured(approval_world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bot, cli = approval_world
    marker = tmp_path / "ran.txt"
    script = f"import pathlib, sys; pathlib.Path({str(marker)!r}).write_text('ran'); sys.exit(3)"
    allowed = cli("guard", "--team", "team-ml", "--max-usd", "500", "--", sys.executable, "-c", script)
    assert allowed.code == 3 and marker.read_text() == "ran"  # the command ran, and its exit code is ours
    assert "allowed: $500.00 fits team-ml's headroom of $7,000.00 this month" in allowed.err
    assert bot.stub.api_calls("chat.postMessage") == []

    marker.unlink()
    refused = cli("guard", "--team", "team-ml", "--max-usd", "7000.01", "--", sys.executable, "-c", script)
    assert refused.code == 1 and not marker.exists()
    assert ("refused: team-ml's budget headroom this month is $7,000.00 (budget $10,000.00 − forecast $3,000.00), "
            "under the run's $7,000.01") in " ".join(refused.err.split())
    (posted,) = bot.stub.api_calls("chat.postMessage")
    assert posted.args["channel"] == "C0TEAMML1"
    assert ":no_entry: costbot refused to start `" in _text(posted.args["blocks"])
    assert "under the run's $7,000.01" in _text(posted.args["blocks"])

    assert cli("guard", "--team", "team-ml", "--max-usd", "7000").code == 0  # exactly the headroom fits
    assert cli("guard", "--team", "team-nope", "--max-usd", "5").code == 2
    assert cli("guard", "--team", "team-ml", "--max-usd", "lots").code == 2

    from bot.api import GuardRefused, guard

    assert guard("team-ml", 100, post=False).allowed
    with pytest.raises(GuardRefused, match="refused to start: team-ml's budget headroom"):
        guard("team-ml", "9000", command="python train.py")
    assert len(bot.stub.api_calls("chat.postMessage")) == 2
