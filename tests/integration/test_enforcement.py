"""Graduated enforcement against moto: propose only the team's non-critical resources (never prod, never
protected), act at the limit only when opted in, and otherwise only after an approver clicks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.integration.aws_world import launch, state_of
from tests.integration.test_actions import APPROVER, CONFIG, blocks_text, buttons, click, start_bot


def _world() -> dict[str, str]:
    return {
        "dev-box": launch("dev-box", "g5.xlarge", {"team": "ml", "env": "dev"}),
        "test-box": launch("test-box", "m5.large", {"team": "ml", "env": "test"}),
        "prod-box": launch("prod-box", "g5.xlarge", {"team": "ml", "env": "prod"}),
        "kept-dev": launch("kept-dev", "g5.xlarge", {"team": "ml", "env": "dev", "costbot": "protected"}),
        "data-dev": launch("data-dev", "m5.large", {"team": "data", "env": "dev"}),
    }


def _config(auto: bool) -> dict[str, Any]:
    teams = dict(CONFIG["teams"])
    teams["team-ml"] = {**teams["team-ml"], "budget": {"monthly": 5000}}  # the demo team spends ~21k: over
    return {**CONFIG, "teams": teams, "enforcement": [{"scope": "team-ml", "propose_percent": 100,
                                                       "limit_percent": 120, "auto": auto}]}


def test_proposes_non_critical_and_acts_only_after_approval(aws, demo_store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ids = _world()
    bot, server = start_bot(tmp_path, demo_store[0], _config(auto=False))
    try:
        done = bot.services.enforcement.enforce()
        assert done == {"team-ml": ["proposed 2"]}
        (msg,) = [c for c in bot.stub.api_calls("chat.postMessage") if c.args["channel"] == "C0TEAMML1"]
        text = blocks_text(msg.args["blocks"])
        assert "dev-box" in text and "test-box" in text
        assert "prod-box" not in text and "kept-dev" not in text and "data-dev" not in text
        assert all(state_of(i)[0] == "running" for i in ids.values())  # nothing acted without approval
        assert bot.services.enforcement.enforce() == {"team-ml": []}  # once a month
        dev_key = next(v for a, v in buttons(msg.args["blocks"]) if a == "costbot_stop" and ids["dev-box"] in v)
        click(bot, "costbot_stop", dev_key, APPROVER, "e1")
        assert state_of(ids["dev-box"])[0] == "stopped"  # a budget proposal is not re-checked for idleness
        assert state_of(ids["test-box"])[0] == "running"
    finally:
        server.close()
        bot.stub.stop()


def test_auto_at_the_limit_stops_opted_in_non_critical_only(aws, demo_store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ids = _world()
    bot, server = start_bot(tmp_path, demo_store[0], _config(auto=True))
    try:
        done = bot.services.enforcement.enforce()
        assert done == {"team-ml": ["proposed 2", "stopped 2"]}
        assert state_of(ids["dev-box"])[0] == "stopped" and state_of(ids["test-box"])[0] == "stopped"
        for untouched in ("prod-box", "kept-dev", "data-dev"):
            assert state_of(ids[untouched])[0] == "running"
        audit = bot.services.actions.audit(10)
        stops = [e for e in audit if e.action == "stop" and e.result == "succeeded"]
        assert len(stops) == 2 and all(e.actor.startswith("budget team-ml at") for e in stops)
    finally:
        server.close()
        bot.stub.stop()
