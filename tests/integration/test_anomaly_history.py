"""Anomalies over history: any past period evaluated on demand by the alerts' rules (the demo's runaway spike
is found after ingesting history, though no alert job ever ran), and the alert job catching up on every day
since it last looked without posting alerts older than the configured horizon. Figures against the demo CSV."""

from __future__ import annotations

import csv
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.app import Application
from bot.config import Settings
from tests.conftest import TODAY, CliResult
from tests.integration.conftest import SECRET, RunningBot
from tests.integration.test_ask_demo import Row, day_of, tags
from tests.integration.test_slack_http import texts
from tests.signing import command_body, post
from tests.slack_stub import SlackStub

SPIKE = date(2026, 11, 16)
EC2 = "Amazon Elastic Compute Cloud"
CHANNELS = {"#team-ml": "C0TEAMML1", "#team-vision": "C0TEAMVIS", "#team-data": "C0TEAMDAT",
            "#team-search": "C0TEAMSRC", "#platform": "C0PLATFRM"}


@pytest.fixture(scope="module")
def rows(demo_store: tuple[Path, Path]) -> list[Row]:
    with demo_store[1].open(newline="") as fh:
        return list(csv.DictReader(fh))


def vision_ec2(rows: list[Row], day: date) -> Decimal:
    return sum((Decimal(r["EffectiveCost"]) for r in rows if day_of(r) == day.isoformat()
                and r["ServiceName"] == EC2 and tags(r).get("team") == "vision"), Decimal(0))


def test_slash_anomalies_finds_the_spike_in_history(bot: RunningBot, rows: list[Row]) -> None:
    """A fresh state database: no alert job ever ran, yet `/cost anomalies` shows the runaway job."""
    assert bot.services.anomalies.recent() == []
    rid = f"a{uuid.uuid4().hex[:8]}"
    post(bot.events_url, command_body("anomalies team-vision", bot.stub.response_url(rid)), SECRET)
    bot.stub.wait_for(lambda cs: any(c.kind == "response" and c.name == rid for c in cs))
    text = texts(bot.stub.responses(rid)[0].args["blocks"])
    assert "Anomalies · team-vision · last-30d (2026-10-29 – 2026-11-27)" in text
    assert f"*team-vision* · *{EC2}* on Mon Nov 16: *${vision_ec2(rows, SPIKE):,.2f}*" in text
    assert "• *train-vision-spike*" in text.split("\n", 2)[2]


def test_any_past_period_and_scope(cli: Callable[..., CliResult], demo_store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COSTBOT_DATA_DIR", str(demo_store[0]))
    found = " ".join(cli("ask", "anomalies", "team-vision", "2026-11-10..2026-11-20").out.split())
    assert "on Mon Nov 16" in found and "train-vision-spike" in found
    quiet = cli("ask", "anomalies project:fraud 2026-11-10..2026-11-20")
    assert quiet.code == 0 and "No anomalies for project:fraud in 2026-11-10..2026-11-20" in quiet.out
    budgets = " ".join(cli("budgets", "--anomalies").out.split())
    assert "team-vision · Amazon Elastic Compute Cloud on Mon Nov 16" in budgets and "train-vision-spike" in budgets
    bad = cli("ask", "anomalies team-vision last-weak")
    assert bad.code == 2 and "Did you mean 'last-week'?" in bad.err


@pytest.fixture
def alerting(demo_store: tuple[Path, Path], tmp_path: Path) -> Iterator[Callable[..., Application]]:
    """An application over the demo data with its own state database, posting to the Slack stub."""
    stub = SlackStub().start()
    stub.channels = {k.lstrip("#"): v for k, v in CHANNELS.items()}
    made: list[Application] = []

    def make(**anomalies: Any) -> Application:
        config = yaml.safe_load((Path(__file__).resolve().parents[2] / "bot" / "demo_config.yml").read_text())
        config["anomalies"] = anomalies
        path = tmp_path / "costbot.yml"
        path.write_text(yaml.safe_dump(config))
        app = Application(Settings({"COSTBOT_DATA_DIR": str(demo_store[0]), "COSTBOT_TODAY": TODAY,
                                    "COSTBOT_CONFIG": str(path), "DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}",
                                    "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_URL": stub.api_url}))
        app.stub = stub  # type: ignore[attr-defined]
        made.append(app)
        return app

    yield make
    for app in made:
        app.close()
    stub.stop()


ANOMALY_CHECK = "anomalies"  # the name the alert job records how far it has looked under


def _posted(app: Application) -> list[str]:
    stub: SlackStub = app.stub  # type: ignore[attr-defined]
    return [c.args["blocks"][0]["text"]["text"] for c in stub.api_calls("chat.postMessage")]


def test_the_alert_job_catches_up_since_it_last_ran(alerting) -> None:  # type: ignore[no-untyped-def]
    """Down since Nov 10: the next run looks at every day from Nov 11 to the data's last day; the spike of
    Nov 16 is within a 14-day horizon and is posted once."""
    app = alerting(alert_horizon_days=14)
    insights = app.use_cases.anomalies.store
    insights.set_checked_through(ANOMALY_CHECK, date(2026, 11, 10))
    posted = app.use_cases.anomalies.check_anomalies()
    assert [(a.team, a.service, a.day) for a in posted] == [("team-vision", EC2, SPIKE)]
    assert len([t for t in _posted(app) if "train-vision-spike" in t]) == 1
    assert insights.checked_through(ANOMALY_CHECK) == date(2026, 11, 27)
    assert app.use_cases.anomalies.check_anomalies() == []  # nothing new, nothing posted again
    assert len(_posted(app)) == 1


def test_found_late_beyond_the_horizon_is_kept_not_posted(alerting) -> None:  # type: ignore[no-untyped-def]
    app = alerting()  # the default horizon: 7 days
    app.use_cases.anomalies.store.set_checked_through(ANOMALY_CHECK, date(2026, 11, 10))
    assert app.use_cases.anomalies.check_anomalies() == []
    assert _posted(app) == []
    (kept,) = [a for a in app.use_cases.anomalies.recent("team-vision") if a.day == SPIKE]
    assert kept.causes[0].name == "train-vision-spike"
    findings = app.use_cases.anomalies.findings("team-vision", "last-30d")
    assert [(a.day, a.id) for a in findings.anomalies] == [(SPIKE, kept.id)]  # listed with its record


def test_the_first_run_looks_back_over_the_horizon_only(alerting) -> None:  # type: ignore[no-untyped-def]
    app = alerting(alert_horizon_days=14)
    posted = app.use_cases.anomalies.check_anomalies()
    assert [(a.team, a.day) for a in posted] == [("team-vision", SPIKE)]
    assert app.use_cases.anomalies.store.checked_through(ANOMALY_CHECK) == date(2026, 11, 27)
