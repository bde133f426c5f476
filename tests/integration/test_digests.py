"""Digests end to end: figures against plain Python over the demo CSV, the chart, delivery through the Slack
stub, subscriptions from signed slash commands, schedule arithmetic, and posting once across schedulers."""

from __future__ import annotations

import csv
import json
import logging
import threading
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from bot.adapters.state.database import make_engine
from bot.adapters.state.repository import SqlLeaseStore, SqlSubscriptionStore
from bot.app import Application
from bot.config import Settings
from bot.domain.subscriptions import Subscription
from bot.jobs import last_fire_time, trigger_for
from bot.render.charts import digest_png
from tests.conftest import TODAY
from tests.integration.conftest import SECRET, RunningBot
from tests.signing import command_body, post
from tests.slack_stub import SlackStub

ML = "ml"


def load(csv_path: Path) -> list[dict[str, str]]:
    with csv_path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def daily_totals(rows: list[dict[str, str]], team: str | None) -> dict[date, Decimal]:
    out: dict[date, Decimal] = defaultdict(Decimal)
    for r in rows:
        if team is None or json.loads(r["Tags"]).get("team") == team:
            out[date.fromisoformat(r["ChargePeriodStart"][:10])] += Decimal(r["EffectiveCost"])
    return out


@pytest.fixture(scope="module")
def services(demo_store: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    state = tmp_path_factory.mktemp("digest-state") / "state.db"
    return Application(Settings({"COSTBOT_DATA_DIR": str(demo_store[0]), "COSTBOT_TODAY": TODAY,
                                 "DATABASE_URL": f"sqlite:///{state}"})).use_cases


def test_daily_digest_figures(services, demo_store) -> None:  # type: ignore[no-untyped-def]
    rows = load(demo_store[1])
    totals = daily_totals(rows, ML)
    digest = services.digests.build("team-ml")
    day = date(2026, 11, 27)  # yesterday of 2026-11-28
    assert digest.day == day
    assert digest.yesterday == totals[day]
    assert digest.average_7d == sum(totals[day - timedelta(days=i)] for i in range(1, 8)) / 7
    assert digest.same_weekday_last_week == totals[day - timedelta(days=7)]
    mtd = sum(v for d, v in totals.items() if date(2026, 11, 1) <= d <= day)
    assert digest.month_to_date == mtd
    assert digest.budget == Decimal(25000)
    # month end: each remaining day (Nov 28, 29, 30) at the mean of its weekday over the last 28 days
    rest = Decimal(0)
    for d in (date(2026, 11, 28), date(2026, 11, 29), date(2026, 11, 30)):
        same = [totals.get(day - timedelta(days=i), Decimal(0)) for i in range(28)
                if (day - timedelta(days=i)).weekday() == d.weekday()]
        rest += sum(same) / len(same)
    assert digest.forecast == mtd + rest
    assert digest.untagged_share == 0
    # the top mover is the largest absolute change of yesterday against the 7-day mean, over services,
    # projects and resources
    candidates = []
    for dim, key_of in (("service", lambda r: r["ServiceName"]), ("resource", lambda r: r["ResourceId"]),
                        ("project", lambda r: json.loads(r["Tags"]).get("project"))):
        per: dict[str, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        for r in rows:
            if json.loads(r["Tags"]).get("team") == ML and key_of(r):
                per[key_of(r)][date.fromisoformat(r["ChargePeriodStart"][:10])] += Decimal(r["EffectiveCost"])
        for key, days in per.items():
            change = days[day] - sum(days[day - timedelta(days=i)] for i in range(1, 8)) / 7
            candidates.append((abs(change), dim, key))
    top = max(candidates)
    assert (digest.movers[0].dimension, digest.movers[0].key) == (top[1], top[2])


def test_weekly_digest_by_project_and_model(services, demo_store) -> None:  # type: ignore[no-untyped-def]
    rows = load(demo_store[1])
    digest = services.digests.build("team-vision", "weekly")
    assert digest.week_start == date(2026, 11, 16)
    week = daily_totals(rows, "vision")
    assert digest.week_total == sum(week[date(2026, 11, 16) + timedelta(days=i)] for i in range(7))
    assert digest.previous_week_total == sum(week[date(2026, 11, 9) + timedelta(days=i)] for i in range(7))
    per_model: dict[str, Decimal] = defaultdict(Decimal)
    for r in rows:
        tags = json.loads(r["Tags"])
        if tags.get("team") == "vision" and "2026-11-16" <= r["ChargePeriodStart"][:10] < "2026-11-23":
            per_model[tags.get("model", "(untagged)")] += Decimal(r["EffectiveCost"])
    assert {c.key: c.current for c in digest.by_model} == dict(per_model)


def test_digest_chart_is_a_1200_by_600_png(services) -> None:  # type: ignore[no-untyped-def]
    digest = services.digests.build("")
    assert digest.chart is not None and len(digest.chart.days) == 30
    assert digest.chart.days[-1] == date(2026, 11, 27)
    assert len(digest.chart.keys) == 6 and digest.chart.keys[-1] == "(other)"
    png = digest_png(digest.chart)
    with Image.open(BytesIO(png)) as img:
        assert img.format == "PNG" and img.size == (1200, 600)


def test_digest_is_posted_as_the_charts_message(bot: RunningBot, stub: SlackStub, demo_store) -> None:  # type: ignore[no-untyped-def]
    stub.channels = {"team-ml": "C0TEAMML1", "general": "C0GENERAL"}
    bot.services.digests.post_now("#team-ml", "team-ml")
    names = [(c.kind, c.name) for c in stub.calls]
    assert names[0] == ("api", "conversations.list")
    assert names[1] == ("api", "files.getUploadURLExternal")
    assert names[2][0] == "upload"
    assert names[3] == ("api", "files.completeUploadExternal")
    upload = stub.calls[2]
    with Image.open(BytesIO(upload.raw)) as img:
        assert img.size == (1200, 600)
    complete = stub.calls[3].args
    assert complete["channel_id"] == "C0TEAMML1"
    blocks = json.loads(complete["blocks"]) if isinstance(complete["blocks"], str) else complete["blocks"]
    assert blocks[0]["text"]["text"] == "Daily cost digest · team-ml"
    totals = daily_totals(load(demo_store[1]), ML)
    assert f"*Fri Nov 27: ${totals[date(2026, 11, 27)]:,.2f}*" in blocks[1]["text"]["text"]


def test_subscribe_list_unsubscribe_from_slack(bot: RunningBot, stub: SlackStub) -> None:
    def command(text: str, rid: str) -> dict:  # type: ignore[type-arg]
        status, _ = post(bot.events_url, command_body(text, stub.response_url(rid), channel_id="C0TEAMML1"), SECRET)
        assert status == 200
        stub.wait_for(lambda cs: any(c.kind == "response" and c.name == rid for c in cs))
        return stub.responses(rid)[0].args

    reply = command("digest subscribe team-ml daily 07:30", "s1")
    assert "<#C0TEAMML1> gets the *team-ml* digest daily at 07:30 (UTC)" in reply["blocks"][0]["text"]["text"]
    (sub,) = [s for s in bot.services.digests.subscriptions("C0TEAMML1") if s.scope == "team-ml"]
    assert (sub.cadence, sub.cron, sub.created_by, sub.origin) == ("daily", "30 7 * * *", "U0ML00001", "slack")
    command("digest subscribe project:fraud weekly fri 16:00", "s2")
    listed = command("digest list", "s3")["blocks"][0]["text"]["text"]
    assert "*team-ml* daily at 07:30 (UTC)" in listed and "*project:fraud* weekly on Fri at 16:00 (UTC)" in listed
    gone = command("digest unsubscribe team-ml", "s4")["blocks"][0]["text"]["text"]
    assert "Unsubscribed <#C0TEAMML1> from the *team-ml* digest." in gone
    assert [s.scope for s in bot.services.digests.subscriptions("C0TEAMML1")] == ["project:fraud"]
    bad = command("digest subscribe team-ml hourly", "s5")["blocks"][0]["text"]["text"]
    assert "unknown word 'hourly'" in bad or "cadence" in bad
    assert stub.api_calls() == []  # subscriptions answer ephemerally; nothing posted


def test_digest_fires_at_its_local_time() -> None:
    sub = Subscription(channel="C1", scope="team-ml", cadence="cron", cron="0 9 * * MON-FRI",
                       timezone="Europe/Berlin")
    berlin = ZoneInfo("Europe/Berlin")
    trigger = trigger_for(sub)
    # Friday 2026-03-27 10:00 Berlin -> next is Monday 09:00, the first day of summer time (UTC+2)
    after = datetime(2026, 3, 27, 10, 0, tzinfo=berlin)
    nxt = trigger.get_next_fire_time(None, after)
    assert nxt == datetime(2026, 3, 30, 9, 0, tzinfo=berlin)
    assert nxt.utcoffset() == timedelta(hours=2)
    assert nxt.astimezone(ZoneInfo("UTC")).hour == 7
    # the run key of a digest is its most recent scheduled time
    assert last_fire_time(sub, datetime(2026, 3, 28, 12, 0, tzinfo=berlin)) == datetime(2026, 3, 27, 9, 0,
                                                                                      tzinfo=berlin)


def test_a_failing_digest_leaves_the_others_posted_and_is_retried(bot: RunningBot, stub: SlackStub) -> None:
    digests = bot.services.digests
    store = SqlSubscriptionStore(make_engine(bot.app.settings.database_url))
    first = store.upsert_subscription(Subscription("C0FAIL001", "team-data", "daily", "0 9 * * *", "UTC"))
    second = store.upsert_subscription(Subscription("C0OK00001", "team-search", "daily", "0 9 * * *", "UTC"))
    stub.fail("files.getUploadURLExternal", status=500, times=3)  # the first try and both 5xx retries
    with pytest.raises(Exception):  # noqa: B017 - the job's exception is what the scheduler retries on
        digests.run(first.id, "2026-11-28T09:00:00+00:00")  # type: ignore[arg-type]
    assert digests.run(second.id, "2026-11-28T09:00:00+00:00") == "posted"  # type: ignore[arg-type]
    completes = stub.api_calls("files.completeUploadExternal")
    assert [c.args["channel_id"] for c in completes] == ["C0OK00001"]
    assert digests.run_status(first.id, "2026-11-28T09:00:00+00:00") == ("failed", 1)  # type: ignore[arg-type]
    # the retry posts it, once
    assert digests.run(first.id, "2026-11-28T09:00:00+00:00") == "posted"  # type: ignore[arg-type]
    assert digests.run(first.id, "2026-11-28T09:00:00+00:00") == "skipped"  # type: ignore[arg-type]
    assert [c.args["channel_id"] for c in stub.api_calls("files.completeUploadExternal")] == ["C0OK00001",
                                                                                              "C0FAIL001"]


def _pg_app(demo_store: tuple[Path, Path], pg_url: str, stub: SlackStub) -> Application:
    env = {"COSTBOT_DATA_DIR": str(demo_store[0]), "COSTBOT_TODAY": TODAY, "DATABASE_URL": pg_url,
           "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_URL": stub.api_url}
    return Application(Settings(env))


def test_two_schedulers_on_postgresql_post_once(demo_store, pg_url) -> None:  # type: ignore[no-untyped-def]
    stub = SlackStub().start()
    a, b = _pg_app(demo_store, pg_url, stub), _pg_app(demo_store, pg_url, stub)
    sched_a = a.scheduler(holder="replica-a", lease_ttl=timedelta(seconds=30))
    sched_b = b.scheduler(holder="replica-b", lease_ttl=timedelta(seconds=30))
    try:
        sub = a.use_cases.digests.subscribe("C0TEAMML1", "team-ml", ["daily", "09:00"], "U1")
        assert sched_a.tick() is True
        assert sched_b.tick() is False  # the lease is held: b stands by
        # the Slack subscription and the one costbot.yml declares (teams.team-ml.digest)
        subs = {s.id: s for s in a.use_cases.digests.subscriptions()}
        system = ["insights", "scan", "sync", "upkeep"]  # the demo config has a (demo) provider: scans
        assert sorted(j.id for j in sched_a.jobs()) == sorted([f"digest-{i}" for i in subs] + system)
        assert {(s.channel, s.cron, s.origin) for s in subs.values()} == {
            ("C0TEAMML1", "0 9 * * *", "slack"), ("#team-ml", "0 9 * * MON-FRI", "config")}
        # both replicas try the same scheduled digest at once: one posts
        results: list[str] = []

        def attempt(app: Application) -> None:
            results.append(app.use_cases.digests.run(sub.id, "2026-11-28T09:00:00+00:00"))  # type: ignore[arg-type]

        threads = [threading.Thread(target=attempt, args=(x,)) for x in (a, b, a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == ["posted", "skipped", "skipped", "skipped"]
        assert len(stub.api_calls("files.completeUploadExternal")) == 1
        # the active one stops: the other takes over
        sched_a.stop()
        assert sched_b.tick() is True
        assert SqlLeaseStore(make_engine(pg_url)).lease_holder("scheduler")[0] == "replica-b"  # type: ignore[index]
    finally:
        sched_a.stop()
        sched_b.stop()
        stub.stop()


def test_missed_runs_are_caught_up_within_grace_and_skipped_beyond(demo_store, pg_url, caplog) -> None:  # type: ignore[no-untyped-def]
    """A scheduler taking the lead after downtime posts the digests that came due at most two hours ago (once)
    and skips older ones with a log line; digests due before a subscription existed never count."""
    stub = SlackStub().start()
    application = _pg_app(demo_store, pg_url, stub)
    runner = application.scheduler(holder="solo", grace=timedelta(hours=2))
    store = SqlSubscriptionStore(application.state)  # migrated at first use
    now = datetime.now(ZoneInfo("UTC"))
    made = now - timedelta(days=2)

    def due(hours_ago: float) -> str:
        at = now - timedelta(hours=hours_ago)
        return f"{at.minute} {at.hour} * * *"

    try:
        recent = store.upsert_subscription(Subscription("C0RECENT1", "team-ml", "cron", due(1), "UTC",
                                                        created_at=made))
        old = store.upsert_subscription(Subscription("C0OLD0001", "team-data", "cron", due(3), "UTC",
                                                     created_at=made))
        store.upsert_subscription(Subscription("C0FRESH01", "team-vision", "cron", due(1), "UTC"))  # made now
        with caplog.at_level(logging.WARNING, logger="costbot.scheduler"):
            assert runner.tick() is True
            stub.wait_for(lambda cs: any(c.name == "files.completeUploadExternal" for c in cs), timeout=30)
            runner.stop()
        posted = [c.args["channel_id"] for c in stub.api_calls("files.completeUploadExternal")]
        assert posted == ["C0RECENT1"]
        assert any(f"digest-{old.id}" in r.message and "skipped" in r.message for r in caplog.records)
        assert recent.id is not None
        # taking the lead again posts nothing twice
        again = application.scheduler(holder="solo-2", grace=timedelta(hours=2))
        assert again.catch_up() == []
        again.stop()
    finally:
        runner.stop()
        stub.stop()
