"""DigestService on fakes: a scheduled digest is posted once per scheduled time, a failure is recorded (and the
retry counted), a subscription that is gone is skipped; the digest's figures against plain sums of the items."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from bot.domain.errors import NotifyError, QueryError
from bot.services.digests import DigestService
from tests.fakes import FakeWorld, LineItem, build_world

CONFIG: dict[str, Any] = {
    "teams": {"team-ml": {"tags": {"team": "ml"}, "channel": "#team-ml", "members": ["U0MEMBER1"],
                          "budget": {"monthly": 4000}}},
}
TODAY = date(2026, 11, 28)  # a Saturday: yesterday is Friday the 27th
RUN = "2026-11-28T09:00:00+00:00"
EC2, SAGEMAKER, S3 = "Amazon Elastic Compute Cloud", "Amazon SageMaker", "Amazon Simple Storage Service"


def _items() -> list[LineItem]:
    items = []
    day = date(2026, 10, 20)
    while day < TODAY:
        weekday = day.weekday() < 5
        items += [
            LineItem(day, Decimal(100 if weekday else 40), EC2, {"team": "ml", "project": "fraud"}, "i-1", "train"),
            LineItem(day, Decimal(10), SAGEMAKER, {"team": "ml", "project": "recsys"}, "ep-1", "ranker"),
            LineItem(day, Decimal(5), S3, {}, "logs", "logs"),
        ]
        day += timedelta(days=1)
    items.append(LineItem(date(2026, 11, 27), Decimal(50), EC2, {"team": "ml", "project": "fraud"}, "i-2", "spike"))
    return items


def world() -> FakeWorld:
    return build_world(CONFIG, _items(), today=TODAY, channel_ids={"#team-ml": "C0TEAMML1"})


def ml_on(w: FakeWorld, day: date) -> Decimal:
    return sum((i.cost for i in w.queries.items if i.day == day and i.tags.get("team") == "ml"), Decimal(0))


def test_a_scheduled_digest_is_posted_once() -> None:
    w = world()
    digests = w.use_cases.digests
    sub = digests.subscribe("C0TEAMML1", "team-ml", ["daily", "09:00"], "U0MEMBER1")
    assert sub.id is not None and (sub.cadence, sub.cron) == ("daily", "0 9 * * *")
    assert digests.run(sub.id, RUN) == "posted"
    assert digests.run(sub.id, RUN) == "skipped"  # a second scheduler, a restart, a retry of a posted run
    assert digests.run_status(sub.id, RUN) == ("posted", 1)
    ((channel, digest),) = w.publisher.published
    assert channel == "C0TEAMML1" and digest == digests.build("team-ml")
    yesterday = date(2026, 11, 27)
    assert (digest.scope_label, digest.cadence, digest.day) == ("team-ml", "daily", yesterday)
    assert digest.yesterday == ml_on(w, yesterday) == Decimal(160)
    assert digest.average_7d == sum((ml_on(w, yesterday - timedelta(days=i)) for i in range(1, 8)), Decimal(0)) / 7
    assert digest.same_weekday_last_week == ml_on(w, date(2026, 11, 20)) == Decimal(110)
    month = w.use_cases.budgets.month("team-ml")
    assert digest.month_to_date == sum((ml_on(w, date(2026, 11, n)) for n in range(1, 28)), Decimal(0))
    assert (digest.budget, digest.forecast) == (Decimal(4000), month.forecast)
    week = Decimal(5 * 100 + 2 * 40) / 7  # the fraud project's (and EC2's) usual day
    assert [(m.dimension, m.key, m.current, m.previous) for m in digest.movers] == [
        ("project", "fraud", Decimal(150), week), ("service", EC2, Decimal(150), week),
        ("resource", "i-2", Decimal(50), Decimal(0))]
    assert digest.untagged_share == 0 and digest.data_through == yesterday
    assert digest.chart is not None and digest.chart.budget_per_day == Decimal(4000) / 30


def test_a_failed_post_is_recorded_and_its_retry_counted() -> None:
    w = world()
    digests = w.use_cases.digests
    sub = digests.subscribe("C0TEAMML1", "team-ml", ["daily"], "U0MEMBER1")
    assert sub.id is not None
    w.publisher.fail_next()
    with pytest.raises(NotifyError):
        digests.run(sub.id, RUN)
    assert digests.run_status(sub.id, RUN) == ("failed", 1)
    assert w.subscriptions.run_error(sub.id, RUN) == "Slack could not be reached (ConnectionError)"
    assert w.publisher.published == []
    assert digests.run(sub.id, RUN) == "posted"  # the scheduler's retry
    assert digests.run_status(sub.id, RUN) == ("posted", 2)
    assert len(w.publisher.published) == 1


def test_an_unknown_or_removed_subscription_is_skipped() -> None:
    w = world()
    digests = w.use_cases.digests
    assert digests.run(999, RUN) == "skipped"
    sub = digests.subscribe("C0TEAMML1", "team-ml", ["daily"], "U0MEMBER1")
    assert sub.id is not None and digests.unsubscribe("C0TEAMML1", "team-ml") is not None
    assert digests.run(sub.id, RUN) == "skipped"
    assert w.publisher.published == [] and digests.run_status(999, RUN) is None
    assert digests.run_status(sub.id, RUN) is None


def test_each_scheduled_time_and_cadence_is_its_own_digest() -> None:
    w = world()
    digests = w.use_cases.digests
    daily = digests.subscribe("C0TEAMML1", "team-ml", ["daily"], "U0MEMBER1")
    weekly = digests.subscribe("C0OTHER01", "team-ml", ["weekly", "fri", "16:00"], "U0MEMBER1")
    assert daily.id is not None and weekly.id is not None and weekly.cron == "0 16 * * fri"
    assert digests.run(daily.id, RUN) == digests.run(daily.id, "2026-11-29T09:00:00+00:00") == "posted"
    assert digests.run(weekly.id, RUN) == "posted"
    assert [(ch, d.cadence) for ch, d in w.publisher.published] == [
        ("C0TEAMML1", "daily"), ("C0TEAMML1", "daily"), ("C0OTHER01", "weekly")]
    weekly_digest = w.publisher.published[-1][1]
    assert weekly_digest.week_start == date(2026, 11, 16)
    assert [(c.key, c.current, c.previous) for c in weekly_digest.by_project] == [
        ("fraud", Decimal(580), Decimal(580)), ("recsys", Decimal(70), Decimal(70))]


def test_without_slack_a_run_fails_and_says_why() -> None:
    w = world()
    digests = DigestService(w.use_cases.digests.builder, w.subscriptions, None, w.config)
    sub = digests.subscribe("C0TEAMML1", "team-ml", ["daily"], "U0MEMBER1")
    assert sub.id is not None
    with pytest.raises(QueryError, match="Slack is not configured"):
        digests.run(sub.id, RUN)
    assert digests.run_status(sub.id, RUN) == ("failed", 1)


def test_a_subscription_is_checked_when_it_is_made() -> None:
    w = world()
    with pytest.raises(QueryError, match="at most hourly"):
        w.use_cases.digests.subscribe("C0TEAMML1", "team-ml", ["cron", "*/5", "*", "*", "*", "*"], "U0MEMBER1")
    with pytest.raises(QueryError):
        w.use_cases.digests.subscribe("C0TEAMML1", "team-nope", ["daily"], "U0MEMBER1")
    assert w.subscriptions.subscriptions() == []
