"""Budgets and anomalies end to end: figures against plain Python over the demo CSV, alerts posted once (also
after a restart), the injected spike found on its day with its resource named, weekly seasonality quiet."""

from __future__ import annotations

import calendar
import csv
import json
import random
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.app import Application
from bot.config import Settings
from tests.conftest import TODAY
from tests.integration.conftest import SECRET, RunningBot
from tests.signing import actions_body, command_body, post
from tests.slack_stub import SlackStub

CHANNELS = {"team-ml": "C0TEAMML1", "team-vision": "C0TEAMVIS", "team-data": "C0TEAMDAT", "team-search": "C0TEAMSRC",
            "platform": "C0PLATFRM"}


def daily(csv_path: Path, team: str) -> dict[date, Decimal]:
    out: dict[date, Decimal] = defaultdict(Decimal)
    with csv_path.open(newline="") as fh:
        for r in csv.DictReader(fh):
            if json.loads(r["Tags"]).get("team") == team:
                out[date.fromisoformat(r["ChargePeriodStart"][:10])] += Decimal(r["EffectiveCost"])
    return out


def test_budget_status_figures(bot: RunningBot, demo_store: tuple[Path, Path]) -> None:
    totals = daily(demo_store[1], "vision")
    status = bot.services.budgets.status("team-vision")
    day = date(2026, 11, 27)
    mtd = sum(v for d, v in totals.items() if date(2026, 11, 1) <= d <= day)
    assert status.month_to_date == mtd and status.budget == Decimal(18000)
    rest = Decimal(0)
    for n in (28, 29, 30):
        d = date(2026, 11, n)
        same = [totals.get(day - timedelta(days=i), Decimal(0)) for i in range(28)
                if (day - timedelta(days=i)).weekday() == d.weekday()]
        rest += sum(same) / len(same)
    assert status.forecast == mtd + rest
    running, run_out = Decimal(0), None
    for n in range(1, 28):
        running += totals.get(date(2026, 11, n), Decimal(0))
        if running >= 18000:
            run_out = date(2026, 11, n)
            break
    assert status.run_out == run_out
    assert status.drivers[0].key == "Amazon Elastic Compute Cloud"
    assert calendar.monthrange(2026, 11)[1] == 30


def test_threshold_alerts_post_once_even_after_a_restart(bot: RunningBot, stub: SlackStub,
                                                          demo_store: tuple[Path, Path]) -> None:
    stub.channels = dict(CHANNELS)
    posted = bot.services.budgets.check_budgets()
    by_scope: dict[str, list[str]] = defaultdict(list)
    for scope, threshold in posted:
        by_scope[scope].append(threshold.key)
    assert by_scope["team-vision"] == ["actual:50", "actual:80", "actual:100", "forecast:100"]
    assert by_scope["team-ml"] == ["actual:50", "actual:80"]  # 84% used, forecast 91%
    messages = [c for c in stub.api_calls("chat.postMessage") if c.args["channel"] == "C0TEAMVIS"]
    assert len(messages) == 4
    text = messages[-1].args["blocks"][0]["text"]["text"]
    assert "*team-vision* has reached *100% of the budget (forecast)*" in text and "train-vision-spike" in text
    assert bot.services.budgets.check_budgets() == []
    # a restart: new services on the same state database
    restarted = Application(bot.app.settings).use_cases
    assert restarted.budgets.check_budgets() == []
    assert len(stub.api_calls("chat.postMessage")) == len(posted)


def test_spike_found_on_its_day_with_its_resource(bot: RunningBot, stub: SlackStub) -> None:
    stub.channels = dict(CHANNELS)
    found = bot.services.anomalies.find(date(2026, 11, 16))
    vision = [a for a in found if a.team == "team-vision"]
    assert [(a.service, a.causes[0].name) for a in vision] == [("Amazon Elastic Compute Cloud", "train-vision-spike")]
    cause = vision[0].causes[0]
    assert cause.actual == Decimal("32.7726") * 160 and cause.owner == "team-vision"
    assert bot.services.anomalies.find(date(2026, 11, 17)) == []  # and the day after is quiet
    posted = bot.services.anomalies.check_anomalies(date(2026, 11, 16))
    assert [a.team for a in posted] == ["team-vision"]
    (alert,) = [c for c in stub.api_calls("chat.postMessage") if c.args["channel"] == "C0TEAMVIS"]
    assert "train-vision-spike" in alert.args["blocks"][0]["text"]["text"]
    actions = [e["action_id"] for e in alert.args["blocks"][1]["elements"]]
    # train-vision-01, a cause that still runs, is one of the demo provider's: it can be stopped from the alert
    assert actions == ["costbot_acknowledge", "costbot_details", "costbot_stop"]
    assert bot.services.anomalies.check_anomalies(date(2026, 11, 16)) == []  # one alert per anomaly
    # Acknowledge from Slack: recorded, the alert updated in place
    ack_value = alert.args["blocks"][1]["elements"][0]["value"]
    post(bot.events_url, actions_body("costbot_acknowledge", ack_value, stub.response_url("ack")), SECRET)
    stub.wait_for(lambda cs: any(c.name == "chat.update" for c in cs))
    update = stub.api_calls("chat.update")[0]
    assert "Acknowledged by <@U0ML00001>: expected" in update.args["blocks"][1]["elements"][0]["text"]
    assert bot.services.anomalies.recent("team-vision")[0].status == "acknowledged"


def test_budget_and_anomalies_commands(bot: RunningBot, stub: SlackStub) -> None:
    stub.channels = dict(CHANNELS)
    post(bot.events_url, command_body("budget team-ml", stub.response_url("b1")), SECRET)
    post(bot.events_url, command_body("budget set team-ml 30000", stub.response_url("b2")), SECRET)
    post(bot.events_url, command_body("budget set team-ml 30000", stub.response_url("b3"), user_id="U0ADMIN01"),
         SECRET)
    stub.wait_for(lambda cs: {c.name for c in cs if c.kind == "response"} >= {"b1", "b2", "b3"}
                  and len([c for c in cs if c.kind == "response" and c.name == "b3"]) == 2)
    shown = stub.responses("b1")[0].args["blocks"][1]["text"]["text"]
    assert "of $25,000 (" in shown and "Month-end forecast" in shown
    assert "only admins can change budgets" in stub.responses("b2")[0].args["blocks"][0]["text"]["text"]
    confirmed, status = stub.responses("b3")[0].args, stub.responses("b3")[1].args
    assert confirmed["blocks"][0]["text"]["text"] == \
        ":white_check_mark: *team-ml*'s monthly budget is now *$30,000* (was $25,000); told #team-ml."
    (told,) = [c for c in stub.api_calls("chat.postMessage") if c.args["channel"] == CHANNELS["team-ml"]]
    assert told.args["blocks"][0]["text"]["text"] == (
        ":moneybag: <@U0ADMIN01> changed the budget: *team-ml*'s monthly budget is now *$30,000* (was $25,000). "
        "`/cost budget team-ml` shows the month against it.")
    assert "of $30,000 (" in status["blocks"][1]["text"]["text"]
    assert bot.services.budgets.budget_for("team-ml") == Decimal(30000)


def _seasonal_csv(path: Path, spike: date | None) -> None:
    rng = random.Random(7)
    start = date.fromisoformat(TODAY) - timedelta(days=90)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["ChargePeriodStart", "BilledCost", "EffectiveCost", "ServiceName", "ResourceId", "Tags"])
        for i in range(90):
            d = start + timedelta(days=i)
            base = 200 if d.weekday() >= 5 else 1000
            cost = Decimal(base * rng.uniform(0.93, 1.07)).quantize(Decimal("0.01"))
            if d == spike:
                cost *= 2
            w.writerow([d.isoformat(), cost, cost, "Amazon SageMaker", "ep-1", '{"team": "ml"}'])


@pytest.mark.parametrize("spike", [None, date(2026, 11, 18)])
def test_weekly_seasonality_is_quiet_and_a_doubling_is_caught(tmp_path: Path, spike: date | None) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _seasonal_csv(tmp_path / "seasonal.csv", spike)
    services = Application(Settings({"COSTBOT_DATA_DIR": str(data), "COSTBOT_TODAY": TODAY,
                                     "DATABASE_URL": f"sqlite:///{tmp_path / 'state.db'}"})).use_cases
    services.ingest.ingest([tmp_path / "seasonal.csv"])
    flagged: list[tuple[date, Any]] = []
    for back in range(1, 45):
        day = date.fromisoformat(TODAY) - timedelta(days=back)
        flagged += [(day, a) for a in services.anomalies.find(day)]
    assert [d for d, _ in flagged] == ([spike] if spike else [])
