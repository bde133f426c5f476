"""One budget everywhere: a budget an admin sets with `/cost budget set` is the one `/cost budget`, the digest
(`costbot digest --preview`), App Home, the budget alerts and enforcement go by — and App Home and `/cost budget`
show the same forecast. The real bot over signed HTTP (Slack stub), the real CLI, AWS as moto server.

The demo's team-data spends $6,349.87 this month (through Nov 27) with a $7,056 month-end forecast: under its
configured $8,000 that is 79% used and an 88% forecast; under the $7,000 set from Slack, 91% and 101% — past the
80% warning, short of 100% actual, past the forecast alert and the enforcement rule's propose threshold."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import CliResult
from tests.integration.aws_world import launch
from tests.integration.conftest import SECRET, RunningBot
from tests.integration.test_actions import buttons, start_bot
from tests.signing import command_body, event_body, post

ADMIN, DATA_MEMBER = "U0ADMIN01", "U0DATAMEM"
CONFIG: dict[str, Any] = {
    "timezone": "UTC",
    "teams": {
        "team-ml": {"tags": {"team": "ml"}, "channel": "#team-ml", "approvers": ["U0ML00001"],
                    "budget": {"monthly": 25000}},
        "team-data": {"tags": {"team": "data"}, "channel": "#team-data", "members": [DATA_MEMBER],
                      "approvers": ["U0DAT0001"], "budget": {"monthly": 8000}},
    },
    "providers": [{"kind": "aws", "regions": ["us-east-1"]}],
    "admins": [ADMIN],
    "enforcement": [{"scope": "team-data", "propose_percent": 100, "limit_percent": 150}],
}
FORECAST = re.compile(r"Month-end forecast(?: \(weekday-aware\):)? (\$[\d,]+)")


def texts(blocks: list[dict[str, Any]]) -> str:
    out = []
    for b in blocks:
        if isinstance(b.get("text"), dict):
            out.append(b["text"]["text"])
        out += [e["text"]["text"] if isinstance(e.get("text"), dict) else e["text"] for e in b.get("elements", [])
                if "text" in e]
    return "\n".join(out)


def command(bot: RunningBot, text: str, user: str, name: str, replies: int = 1) -> list[str]:
    status, _ = post(bot.events_url, command_body(text, bot.stub.response_url(name), user_id=user), SECRET)
    assert status == 200
    bot.stub.wait_for(lambda cs: len([c for c in cs if c.kind == "response" and c.name == name]) == replies,
                      timeout=30)
    return [texts(r.args["blocks"]) for r in bot.stub.responses(name)]


def team_data_posts(bot: RunningBot) -> list[str]:
    return [texts(c.args["blocks"]) for c in bot.stub.api_calls("chat.postMessage") if c.args["channel"] == "C0TEAMDAT"]


def test_a_budget_set_from_slack_is_the_one_every_surface_goes_by(aws: Any, demo_store: tuple[Path, Path],
                                                                   tmp_path: Path, cli: Callable[..., CliResult],
                                                                   monkeypatch: Any) -> None:
    dev = launch("data-dev", "m5.large", {"team": "data", "env": "dev"})
    launch("data-prod", "m5.large", {"team": "data", "env": "prod"})
    launch("ml-dev", "m5.large", {"team": "ml", "env": "dev"})
    bot, server = start_bot(tmp_path, demo_store[0], CONFIG)
    try:
        services = bot.services
        # under the configured $8,000: the 50% alert only, nothing to enforce
        before = [t.key for scope, t in services.budgets.check_budgets() if scope == "team-data"]
        assert before == ["actual:50"]
        assert services.enforcement.enforce() == {"team-data": []}
        bot.stub.reset()

        # an admin sets $7,000 from Slack
        confirmed, status = command(bot, "budget set team-data 7000", ADMIN, "set", replies=2)
        assert confirmed == (":white_check_mark: *team-data*'s monthly budget is now *$7,000* (was $8,000); "
                             "told #team-data.")
        assert "Month to date *$6,349.87* of $7,000 (91%) through Nov 27" in status
        assert "Month-end forecast $7,056 (101% of the budget, weekday-aware)" in status

        # /cost budget
        (shown,) = command(bot, "budget team-data", DATA_MEMBER, "show")
        assert "Month to date *$6,349.87* of $7,000 (91%) through Nov 27" in shown
        budget_forecast = FORECAST.findall(shown)
        assert budget_forecast == ["$7,056"]

        # App Home, opened at the same moment: the same budget and the same forecast
        event = {"type": "app_home_opened", "user": DATA_MEMBER, "channel": "D1", "tab": "home"}
        status_code, _ = post(bot.events_url, event_body(event), SECRET, content_type="application/json")
        assert status_code == 200
        bot.stub.wait_for(lambda cs: any(c.name == "views.publish" for c in cs), timeout=30)
        (published,) = bot.stub.api_calls("views.publish")
        view = published.args["view"] if isinstance(published.args["view"], dict) else \
            json.loads(published.args["view"])
        home = texts(view["blocks"])
        assert "*team-data* — month to date *$6,349.87* (through Nov 27) · :large_yellow_circle: 91% of the " \
               "$7,000 monthly budget" in home
        assert FORECAST.findall(home) == budget_forecast
        month = services.budgets.month("team-data")
        assert (month.budget, f"{month.forecast:,.2f}") == (7000, "7,055.76")

        # the digest (`costbot digest team-data --preview`, a separate process's view of the same state)
        monkeypatch.setenv("COSTBOT_CONFIG", str(tmp_path / "costbot.yml"))
        monkeypatch.setenv("COSTBOT_DATA_DIR", str(demo_store[0]))
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'state.db'}")
        preview = tmp_path / "preview"
        result = cli("digest", "team-data", "--preview", str(preview))
        assert result.code == 0, result.err
        digest = texts(json.loads((preview / "digest-team-data-daily.json").read_text()))
        assert "Month to date: *$6,349.87* of $7,000 budget (91%) · month-end forecast $7,056 :warning: over " \
               "budget by $56" in digest

        # budget alerts: the thresholds the new budget crosses, each once, quoting it
        after = [t.key for scope, t in services.budgets.check_budgets() if scope == "team-data"]
        assert after == ["actual:80", "forecast:100"]  # 91% used, a 101% forecast; 50% was posted before
        told, *alerts = team_data_posts(bot)  # first the channel heard who changed its budget
        assert told.startswith(":moneybag: <@U0ADMIN01> changed the budget: *team-data*'s monthly budget is now "
                               "*$7,000* (was $8,000).")
        assert len(alerts) == 2
        assert alerts[0].startswith(":large_yellow_circle: *team-data* has reached *80% of the budget* for November")
        assert alerts[1].startswith(":red_circle: *team-data* has reached *100% of the budget (forecast)*")
        assert all("of $7,000 (91%)" in a and "Month-end forecast $7,056 (101% of the budget" in a for a in alerts)
        assert services.budgets.check_budgets() == []

        # enforcement: the forecast now crosses propose_percent: the team's non-critical resources are offered
        assert services.enforcement.enforce() == {"team-data": ["proposed 1"]}
        (proposal,) = team_data_posts(bot)[3:]  # after the budget change and the two alerts
        assert "data-dev" in proposal and "data-prod" not in proposal and "ml-dev" not in proposal
        assert "dev resource while team-data is forecast at 101% of its budget" in proposal
        assert services.enforcement.enforce() == {"team-data": []}  # once a month
        assert any(action == "costbot_stop" and dev in value
                   for action, value in buttons(bot.stub.api_calls("chat.postMessage")[-1].args["blocks"]))
    finally:
        server.close()
        bot.stub.stop()
        bot.app.close()
