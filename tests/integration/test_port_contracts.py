"""The ports' guarantees, run against each in-memory fake (tests/fakes.py) and the real SQL adapter on SQLite and
PostgreSQL: the same scenario, the same outcome, so the fakes the service tests rely on cannot drift."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.adapters.state.actions_repository import SqlActionStore
from bot.adapters.state.database import StateDatabase
from bot.adapters.state.insights_repository import SqlInsightStore
from bot.adapters.state.repository import SqlLeaseStore, SqlSubscriptionStore
from bot.domain.actions import ActionNotAllowed
from bot.domain.anomalies import Anomaly, Cause
from bot.domain.recommendations import Recommendation
from bot.domain.schedules import NightResource
from bot.domain.subscriptions import Subscription
from bot.ports import ActionStore, InsightStore, LeaseStore, ScheduleStore, SubscriptionStore
from tests.fakes import FakeActionStore, FakeInsightStore, FakeLeaseStore, FakeSubscriptionStore

KEY = "fake|111122223333|us-east-1|vm|i-1"
T = TypeVar("T")


@pytest.fixture(params=["fake", "sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[type[Any], type[Any]], Any]]:
    """Builds a store for the parameter: the fake, or the SQL adapter on a fresh SQLite or PostgreSQL database."""
    if request.param == "fake":
        yield lambda fake, sql: fake()
        return
    url = f"sqlite:///{tmp_path / 'state.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    database = StateDatabase(url)
    yield lambda fake, sql: sql(database)
    database.engine.dispose()


def _together(n: int, fn: Callable[[int], T]) -> list[T]:
    """Run fn(0..n-1) on n threads released at once."""
    gate = threading.Barrier(n)

    def run(i: int) -> T:
        gate.wait()
        return fn(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def _request(store: ActionStore, user: str = "U1", status: str = "requested", key: str = KEY) -> Any:
    return store.create_request(resource_key=key, action="stop", team="team-ml", requested_by=user, status=status,
                                expires_at=datetime.now(UTC) + timedelta(hours=24), params={"basis": "idle"})


# -- ActionStore ---------------------------------------------------------------------------------------------
def test_fifty_concurrent_requests_on_one_resource_create_one(backend: Any) -> None:
    store: ActionStore = backend(FakeActionStore, SqlActionStore)
    results = _together(50, lambda i: _request(store, f"U{i}"))
    assert sum(created for _, created in results) == 1
    assert len({req.id for req, _ in results}) == 1
    winner = next(req for req, created in results if created)
    assert store.open_request(KEY) == winner and winner.status == "requested"


def test_one_of_many_deciders_moves_a_request_and_a_final_state_frees_the_resource(backend: Any) -> None:
    store: ActionStore = backend(FakeActionStore, SqlActionStore)
    req, _ = _request(store, status="approved")
    moved = _together(20, lambda i: store.transition(req.id, ["approved"], "executing", owner=f"worker-{i}"))
    assert moved.count(True) == 1
    owner = f"worker-{moved.index(True)}"
    assert not store.transition(req.id, ["executing"], "succeeded", owner="someone-else")
    assert store.heartbeat(req.id, owner) and not store.heartbeat(req.id, "someone-else")
    assert store.transition(req.id, ["executing"], "succeeded", owner=owner, result="stopped i-1")
    done = store.request(req.id)
    assert done is not None and (done.status, done.result) == ("succeeded", "stopped i-1")
    assert store.open_request(KEY) is None
    again, created = _request(store)
    assert created and again.id != req.id
    assert store.latest_request(KEY) == again


def test_transitions_follow_the_state_machine(backend: Any) -> None:
    store: ActionStore = backend(FakeActionStore, SqlActionStore)
    req, _ = _request(store)
    with pytest.raises(ActionNotAllowed):
        store.transition(req.id, ["requested"], "succeeded")
    assert not store.transition(req.id, ["approved"], "executing", owner="w")  # not in that state
    assert store.transition(req.id, ["requested"], "rejected", approved_by="U9")
    rejected = store.request(req.id)
    assert rejected is not None and (rejected.status, rejected.approved_by) == ("rejected", "U9")
    assert store.requests_in(["requested", "approved"]) == []


def test_only_silent_executors_are_abandoned(backend: Any) -> None:
    store: ActionStore = backend(FakeActionStore, SqlActionStore)
    req, _ = _request(store, status="approved")
    assert store.transition(req.id, ["approved"], "executing", owner="w1")
    before = datetime.now(UTC) - timedelta(minutes=5)
    after = datetime.now(UTC) + timedelta(minutes=5)
    assert store.abandoned(before) == []  # its heartbeat is newer than that
    assert not store.transition(req.id, ["executing"], "failed", silent_since=before, error="gone")
    assert [r.id for r in store.abandoned(after)] == [req.id]
    assert store.transition(req.id, ["executing"], "failed", silent_since=after, error="gone")
    assert store.abandoned(after) == []


def test_a_click_is_claimed_once(backend: Any) -> None:
    store: ActionStore = backend(FakeActionStore, SqlActionStore)
    claims = _together(20, lambda i: store.claim_click("click-1"))
    assert claims.count((True, None)) == 1 and claims.count((False, None)) == 19
    req, _ = _request(store)
    store.set_click_request("click-1", req.id)
    assert store.claim_click("click-1") == (False, req.id)
    store.release_click("click-1")  # a click that made a request is never released
    assert store.claim_click("click-1") == (False, req.id)
    assert store.claim_click("click-2") == (True, None)
    store.release_click("click-2")  # refused: forgotten, so a replay is judged again
    assert store.claim_click("click-2") == (True, None)


def test_recommendations_one_open_per_resource_and_kind(backend: Any) -> None:
    store: ActionStore = backend(FakeActionStore, SqlActionStore)

    def rec(key: str, savings: str, kind: str = "idle") -> Recommendation:
        return Recommendation(resource_key=key, kind=kind, team="team-ml", name=key[-3:], resource_type="g5.xlarge",
                              reason="idle", hourly_price=Decimal("1.0061234"), monthly_savings=Decimal(savings))

    first = store.upsert_recommendation(rec(KEY, "734.455"))
    again = store.upsert_recommendation(rec(KEY, "700"))
    other = store.upsert_recommendation(rec(KEY[:-1] + "2", "900"))
    resize = store.upsert_recommendation(rec(KEY, "300", kind="oversized"))
    assert first.id == again.id and first.monthly_savings == Decimal("734.455")  # as written
    assert first.id is not None and other.id is not None
    kept = store.recommendation(first.id)
    assert kept is not None and kept.monthly_savings == Decimal("700.00")  # NUMERIC(18, 2), read back
    assert kept.hourly_price == Decimal("1.006123")  # NUMERIC(18, 6)
    unpriced = store.upsert_recommendation(replace(rec(KEY[:-1] + "3", "0"), monthly_savings=None))
    # largest savings first, unknown savings last, on every backend
    assert [r.id for r in store.open_recommendations("team-ml")] == [other.id, again.id, resize.id, unpriced.id]
    assert unpriced.id is not None
    store.close_recommendations_for(unpriced.resource_key)
    store.set_recommendation_message([first.id, other.id], "C1", "1.1")
    closed = store.close_recommendations({other.id}, scope_keys={KEY}, reasons={KEY: "gone"})
    assert sorted((r.id, r.status, r.close_reason) for r in closed) == sorted(
        [(first.id, "closed", "gone"), (resize.id, "closed", "gone")])
    assert [r.id for r in store.recommendations_in_message("C1", "1.1")] == [first.id, other.id]
    newer = store.upsert_recommendation(rec(KEY, "100"))
    assert newer.id not in (first.id, resize.id) and newer.channel is None
    found = store.recommendation_for(KEY)
    assert found is not None and (found.id, found.status) == (newer.id, "open")  # the open one first
    store.close_recommendations_for(KEY, reason="stop done")
    latest = store.recommendation_for(KEY)
    assert latest is not None and (latest.id, latest.close_reason) == (newer.id, "stop done")


def test_audit_newest_first(backend: Any) -> None:
    from bot.domain.actions import AuditEntry

    store: ActionStore = backend(FakeActionStore, SqlActionStore)
    at = datetime(2026, 11, 28, 9, tzinfo=UTC)
    for i in range(3):
        store.add_audit(AuditEntry(at=at + timedelta(minutes=i), actor="U1", action="stop", resource_key=KEY,
                                   before=None, after=None, result=f"r{i}", request_id=i))
    assert [e.result for e in store.audit(2)] == ["r2", "r1"]
    assert store.audit(10)[0].at == at + timedelta(minutes=2)


# -- SubscriptionStore, LeaseStore, InsightStore ---------------------------------------------------------------
def test_a_digest_run_is_claimed_once_and_again_only_after_a_failure(backend: Any) -> None:
    store: SubscriptionStore = backend(FakeSubscriptionStore, SqlSubscriptionStore)
    sub = store.upsert_subscription(Subscription("C1", "team-ml", "daily", "0 9 * * *", "UTC", created_by="U1"))
    same = store.upsert_subscription(Subscription("C1", "team-ml", "weekly", "0 9 * * mon", "UTC"))
    assert sub.id == same.id and same.cadence == "weekly" and same.created_by == "U1"
    assert sub.id is not None
    claims = _together(10, lambda i: store.claim_run(sub.id or 0, "2026-11-28T09:00:00+00:00"))
    assert claims.count(True) == 1
    assert not store.claim_run(sub.id, "2026-11-28T09:00:00+00:00")  # running
    assert store.finish_run(sub.id, "2026-11-28T09:00:00+00:00", ok=False, error="down") == 1
    assert store.run_status(sub.id, "2026-11-28T09:00:00+00:00") == ("failed", 1)
    assert store.claim_run(sub.id, "2026-11-28T09:00:00+00:00")
    assert store.finish_run(sub.id, "2026-11-28T09:00:00+00:00", ok=True) == 2
    assert store.run_status(sub.id, "2026-11-28T09:00:00+00:00") == ("posted", 2)
    assert not store.claim_run(sub.id, "2026-11-28T09:00:00+00:00")
    assert store.finish_run(sub.id, "never-ran", ok=True) == 0 and store.run_status(sub.id, "never-ran") is None
    removed = store.remove_subscription("C1", "team-ml")
    assert removed is not None and removed.id == sub.id
    assert store.subscription(sub.id) is None and store.remove_subscription("C1", "team-ml") is None
    assert store.subscriptions() == []


def test_config_subscriptions_not_kept_are_removed(backend: Any) -> None:
    store: SubscriptionStore = backend(FakeSubscriptionStore, SqlSubscriptionStore)
    store.upsert_subscription(Subscription("C1", "team-ml", "cron", "0 9 * * *", "UTC", origin="config"))
    store.upsert_subscription(Subscription("C2", "team-data", "cron", "0 9 * * *", "UTC", origin="config"))
    slack = store.upsert_subscription(Subscription("C3", "team-data", "daily", "0 9 * * *", "UTC"))
    assert store.remove_config_subscriptions_except({("C1", "team-ml")}) == 1
    assert [(s.channel, s.scope) for s in store.subscriptions()] == [("C1", "team-ml"), ("C3", "team-data")]
    assert store.subscriptions("C3") == [slack]


def test_one_lease_holder_until_it_expires_or_is_released(backend: Any) -> None:
    store: LeaseStore = backend(FakeLeaseStore, SqlLeaseStore)
    wins = _together(10, lambda i: store.acquire_lease("scheduler", f"h{i}", timedelta(seconds=30)))
    assert wins.count(True) == 1
    holder = f"h{wins.index(True)}"
    held = store.lease_holder("scheduler")
    assert held is not None and held[0] == holder
    assert store.acquire_lease("scheduler", holder, timedelta(seconds=30))  # renewing
    store.release_lease("scheduler", "someone-else")
    assert not store.acquire_lease("scheduler", "other", timedelta(seconds=30))
    store.release_lease("scheduler", holder)
    assert store.lease_holder("scheduler") is None
    assert store.acquire_lease("scheduler", "other", timedelta(seconds=-1))  # taken, and already expired
    assert store.acquire_lease("scheduler", "third", timedelta(seconds=30))


def test_budget_alerts_and_anomalies_once(backend: Any) -> None:
    store: InsightStore = backend(FakeInsightStore, SqlInsightStore)
    store.set_budget("team-ml", Decimal("25000.004"), "U0ADMIN01")
    store.set_budget("team-ml", Decimal("30000.005"), "U0ADMIN01")
    assert store.budgets() == {"team-ml": Decimal("30000.01")}  # NUMERIC(18, 2)
    claims = _together(10, lambda i: store.claim_budget_alert("team-ml", "2026-11", "actual:80"))
    assert claims.count(True) == 1
    assert store.claim_budget_alert("team-ml", "2026-11", "actual:100")
    assert store.claim_budget_alert("team-ml", "2026-12", "actual:80")
    anomaly = Anomaly("team-vision", "Amazon EC2", date(2026, 11, 16), Decimal("5243.6160004"), Decimal("100"),
                      (Cause("arn:1", "train-vision-spike", "BoxUsage", Decimal("5243.616"), Decimal("0"),
                             "team-vision"),))
    saved = store.save_anomaly(anomaly)
    assert saved is not None and saved.id is not None and saved.status == "open"
    assert saved.actual == Decimal("5243.6160004") and saved.causes == anomaly.causes  # as written
    kept = store.anomaly(saved.id)
    assert kept is not None and kept.actual == Decimal("5243.616000")  # NUMERIC(18, 6), read back
    assert store.save_anomaly(anomaly) is None
    later = store.save_anomaly(Anomaly("team-vision", "Amazon EC2", date(2026, 11, 17), Decimal(1), Decimal(0)),
                               status="continued")
    assert later is not None and later.status == "continued"
    assert [a.day for a in store.anomalies(date(2026, 11, 1), "team-vision")] == [date(2026, 11, 17),
                                                                                  date(2026, 11, 16)]
    assert store.anomalies(date(2026, 11, 1), "team-ml") == []
    store.set_anomaly_message(saved.id, "C1", "1.5")
    acked = store.acknowledge(saved.id, "U1")
    assert acked is not None and acked[0].status == "acknowledged" and acked[1:] == ("C1", "1.5")
    found = store.anomaly(saved.id)
    assert found is not None and found.status == "acknowledged"
    assert store.acknowledge(999, "U1") is None and store.anomaly(999) is None
    assert store.checked_through("anomalies") is None
    store.set_checked_through("anomalies", date(2026, 11, 20))
    store.set_checked_through("anomalies", date(2026, 11, 18))  # never moves back
    assert store.checked_through("anomalies") == date(2026, 11, 20)
    store.set_checked_through("anomalies", date(2026, 11, 27))
    assert store.checked_through("anomalies") == date(2026, 11, 27) and store.checked_through("other") is None


# -- CostQueries: the fake against the DuckDB store, over the same line items -----------------------------------
def _items() -> list[Any]:
    from tests.fakes import LineItem

    d = date(2026, 11, 2)  # a Monday
    ec2, sm, s3 = "Amazon Elastic Compute Cloud", "Amazon SageMaker", "Amazon Simple Storage Service"
    return [
        LineItem(d, Decimal("10.123456789"), ec2, {"team": "ml", "project": "fraud"}, "i-1", "gpu-1",
                 billed=Decimal("12")),
        LineItem(d, Decimal("5.5"), sm, {"Team": "ML", "Project": "Fraud"}, "ep-1", "ranker"),
        LineItem(d + timedelta(days=1), Decimal("7.25"), ec2, {"team": "vision"}, "i-2", "train-2"),
        LineItem(d + timedelta(days=1), Decimal("3"), s3, {"team": ""}, None, None, category="Usage"),
        LineItem(d + timedelta(days=6), Decimal("2.5"), s3, {}, "bucket-1", "logs", account="222233334444"),
        LineItem(d + timedelta(days=7), Decimal("4"), ec2, {"team": "data", "env": "dev"}, "i-3", "etl",
                 region="eu-west-1", category="Tax"),
        LineItem(d + timedelta(days=29), Decimal("1.01"), sm, {"team": "ml", "model": "bert"}, "nb-1", "nb"),
        LineItem(d - timedelta(days=3), Decimal("100"), ec2, {"team": "ml"}, "i-1", "gpu-1"),
    ]


def _focus_csv(items: list[Any], path: Path) -> Path:
    import csv
    import json

    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["ChargePeriodStart", "BilledCost", "EffectiveCost", "ServiceName", "ResourceId", "ResourceName",
                    "SubAccountId", "BillingAccountId", "RegionId", "ChargeCategory", "ProviderName", "Tags"])
        for i in items:
            w.writerow([i.day.isoformat(), i.metric("BilledCost"), i.cost, i.service, i.resource_id or "",
                        i.resource_name or "", i.account, i.account, i.region, i.category, "AWS",
                        json.dumps(dict(i.tags))])
    return path


@pytest.fixture(scope="module")
def both_engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    from bot.adapters.duckdb_store import DuckDBCostStore
    from tests.fakes import FakeCostQueries

    root = tmp_path_factory.mktemp("queries")
    items = _items()
    store = DuckDBCostStore(root / "costs.duckdb")
    store.ingest_files([_focus_csv(items, root / "focus.csv")], source="fake")
    try:
        yield FakeCostQueries(items), store
    finally:
        store.close()


def _specs() -> list[Any]:
    from bot.domain.spec import AllOf, ColumnIn, CostSpec, TagMissing, TagsMatch

    start, end = date(2026, 11, 1), date(2026, 12, 1)
    conditions: list[tuple[Any, ...]] = [
        (), (TagsMatch((("TEAM", "Ml"),)),), (ColumnIn("ServiceName", ("amazon sagemaker", "nothing")),),
        (TagMissing("team"),), (AllOf((TagsMatch((("project", "FRAUD"),)), ColumnIn("RegionId", ("us-east-1",)))),),
        (ColumnIn("ServiceName", ()),), (AllOf(()),), (TagsMatch((("team", "ml"), ("model", "bert"))),),
    ]
    return [CostSpec(metric, start, end, c, "team") for c in conditions for metric in ("EffectiveCost", "BilledCost")]


def _groupings() -> list[Any]:
    from bot.domain.spec import ColumnIn, Grouping, TagsMatch, TeamRule

    teams = (TeamRule("team-ml", TagsMatch((("team", "ml"),))),
             TeamRule("team-vision", TagsMatch((("team", "vision"),))))
    return [
        Grouping("teams", "team", teams), Grouping("teams", "team"), Grouping("tag", "project"),
        Grouping("column", "ResourceId"), Grouping("column", "ServiceName", then=Grouping("column", "x_UsageType")),
        Grouping("time", "day"), Grouping("time", "week"), Grouping("time", "month"),
        Grouping("rules", "rules", rules=(("storage", ColumnIn("ServiceName", ("Amazon Simple Storage Service",))),),
                 then=Grouping("teams", "team", teams, then=Grouping("column", "ChargeCategory"))),
        Grouping("rules", "rules"),
    ]


def test_fake_cost_queries_answer_as_the_duckdb_store(both_engines: tuple[Any, Any]) -> None:
    fake, store = both_engines
    assert fake.freshness() == store.freshness() == date(2026, 12, 1)
    assert fake.row_count() == store.row_count() == 8
    assert list(fake.sources()) == list(store.sources()) == [("fake", 8)]
    for column in ("ServiceName", "ResourceId", "SubAccountId"):
        assert fake.distinct_values(column) == store.distinct_values(column)
    assert fake.first_day() == store.first_day() == date(2026, 10, 30)
    assert sorted(fake.tag_keys()) == sorted(store.tag_keys())
    for key in ("team", "TEAM", "project", "model", "nothing"):
        assert sorted(fake.tag_values(key)) == sorted(store.tag_values(key)), key
    assert fake.resource_names() == store.resource_names() == {
        "i-1": "gpu-1", "ep-1": "ranker", "i-2": "train-2", "bucket-1": "logs", "i-3": "etl", "nb-1": "nb"}
    for spec in _specs():
        assert fake.totals(spec, (date(2026, 10, 1), date(2026, 11, 1))) == \
            store.totals(spec, (date(2026, 10, 1), date(2026, 11, 1))), spec
        for grouping in _groupings():
            assert fake.groups(spec, grouping) == store.groups(spec, grouping), (spec, grouping)
            assert fake.daily(spec, grouping) == store.daily(spec, grouping), (spec, grouping)


# -- PlanApprovalStore -------------------------------------------------------------------------------------------
def _plan_approval(plan: str = "a" * 64, team: str | None = "team-ml", days: float = 14) -> Any:
    from bot.domain.estimate import PlanApproval

    now = datetime.now(UTC)
    return PlanApproval(plan_hash=plan, team=team, status="requested", requested_by="ci", title="PR #1",
                        monthly_delta=Decimal("71853.604"), one_off=Decimal("0"), reasons=("p5 needs an approval",),
                        headroom_after=Decimal("-185.355"), created_at=now, expires_at=now + timedelta(days=days))


def _approvals(backend: Callable[[type[Any], type[Any]], Any]) -> Any:
    from bot.adapters.state.approvals_repository import SqlPlanApprovalStore
    from tests.fakes import FakePlanApprovalStore

    return backend(FakePlanApprovalStore, SqlPlanApprovalStore)


def test_plan_approvals_one_per_plan_and_team(backend) -> None:  # type: ignore[no-untyped-def]
    store = _approvals(backend)
    first, created = store.request(_plan_approval())
    assert created and first.status == "requested" and first.monthly_delta == Decimal("71853.60")
    assert first.headroom_after == Decimal("-185.36") and first.reasons == ("p5 needs an approval",)
    again, created = store.request(_plan_approval())
    assert not created and again.id == first.id
    other, created = store.request(_plan_approval(team=None))  # lines no team owns: a row of their own
    assert created and other.id != first.id and other.team is None
    store.set_message(first.id, "C0TEAMML1", "1700000000.000100")
    assert (store.approval(first.id).channel, store.approval(first.id).message_ts) == ("C0TEAMML1",
                                                                                        "1700000000.000100")
    assert [a.id for a in store.for_plan("a" * 64)] == [first.id, other.id] and store.for_plan("b" * 64) == []


def test_plan_approval_decided_once(backend) -> None:  # type: ignore[no-untyped-def]
    store = _approvals(backend)
    approval, _ = store.request(_plan_approval())
    won = _together(8, lambda i: store.decide(approval.id, "approved" if i % 2 else "rejected", f"U{i}"))
    assert won.count(True) == 1
    decided = store.approval(approval.id)
    assert decided.status in ("approved", "rejected") and decided.decided_by is not None
    assert decided.decided_at is not None
    assert store.request(_plan_approval())[1] is False  # decided and not expired: kept as it is


def test_plan_approval_expiry(backend) -> None:  # type: ignore[no-untyped-def]
    store = _approvals(backend)
    stale, _ = store.request(_plan_approval(days=-1))
    assert store.decide(stale.id, "approved", "U1") is False  # too late to decide
    renewed, created = store.request(_plan_approval())
    assert created and renewed.id == stale.id and renewed.status == "requested"
    assert store.decide(renewed.id, "rejected", "U1") is True
    rejected, _ = store.request(_plan_approval(plan="c" * 64, days=-1))
    store.request(_plan_approval(plan="c" * 64))
    assert store.approval(rejected.id).status == "requested"


# -- off-hours schedules ---------------------------------------------------------------------------------------------
def _schedules(backend: Any) -> ScheduleStore:
    from bot.adapters.state.schedules_repository import SqlScheduleStore
    from tests.fakes import FakeScheduleStore

    store: ScheduleStore = backend(FakeScheduleStore, SqlScheduleStore)
    return store


def test_a_schedule_event_is_claimed_once_per_schedule_day_and_team(backend: Any) -> None:
    store = _schedules(backend)
    won = _together(20, lambda i: store.claim_event("office-hours", "stop", "2026-12-01", "team-ml", f"s{i}"))
    assert won.count(True) == 1
    assert store.claim_event("office-hours", "stop", "2026-12-01", None, "s")  # another team (none)
    assert not store.claim_event("office-hours", "stop", "2026-12-01", None, "s")
    assert store.claim_event("office-hours", "stop", "2026-12-02", "team-ml", "s")  # another day
    assert store.claim_event("late", "stop", "2026-12-01", "team-ml", "s")  # another schedule
    event = store.event("office-hours", "stop", "2026-12-01", "team-ml")
    assert event is not None and event.actor == f"s{won.index(True)}" and event.team == "team-ml"
    store.set_event_message("office-hours", "stop", "2026-12-01", "team-ml", "C1", "123.4")
    again = store.event_by_id(event.id)
    assert again is not None and (again.channel, again.message_ts, again.day) == ("C1", "123.4", "2026-12-01")
    unowned = store.event("office-hours", "stop", "2026-12-01", None)
    assert unowned is not None and unowned.team is None
    assert store.event("office-hours", "heads-up", "2026-12-01", "team-ml") is None
    assert store.event_by_id(10_000) is None


def test_a_resource_has_one_record_a_night_moved_on_by_one_caller(backend: Any) -> None:
    store = _schedules(backend)
    night = date(2026, 12, 1)
    first = NightResource("office-hours", night, KEY, "team-ml", "gpu-dev", "planned")
    assert store.add_nights([first, replace(first, resource_key=KEY + "2", name="nb")]) == 2
    assert store.add_nights([replace(first, state="kept")]) == 0  # kept as it was
    assert [r.state for r in store.nights("office-hours", night)] == ["planned", "planned"]
    moved = _together(20, lambda i: store.move_night("office-hours", night, KEY, ["planned"], "kept", by=f"U{i}",
                                                     reason="kept running tonight"))
    assert moved.count(True) == 1
    (kept,) = store.nights("office-hours", states=["kept"])
    assert kept.by == f"U{moved.index(True)}" and kept.reason == "kept running tonight"
    stop_at = datetime(2026, 12, 1, 19, tzinfo=UTC)
    assert store.move_night("office-hours", night, KEY + "2", ["planned"], "stopping")
    assert not store.move_night("office-hours", night, KEY + "2", ["planned"], "stopping")
    assert store.move_night("office-hours", night, KEY + "2", ["stopping"], "stopped", request_id=7,
                            stopped_at=stop_at, hourly_cost=Decimal("1.0061234"), cost_source="bill")
    (stopped,) = store.stopped_between(stop_at - timedelta(days=7), stop_at + timedelta(hours=1))
    assert (stopped.name, stopped.request_id, stopped.stopped_at, stopped.hourly_cost, stopped.cost_source) == (
        "nb", 7, stop_at, Decimal("1.006123"), "bill")
    assert store.stopped_between(stop_at - timedelta(days=7), stop_at) == []  # stopped at the period's end
    started = stop_at + timedelta(hours=12)
    assert store.move_night("office-hours", night, KEY + "2", ["stopped"], "started", started_at=started)
    assert store.stopped_between(started, started + timedelta(days=1)) == []  # started before the period
    assert [r.name for r in store.stopped_between(started - timedelta(hours=1), started)] == ["nb"]
    assert store.nights("late") == [] and store.nights(night=date(2026, 12, 2)) == []
    with pytest.raises(ValueError, match="not a field of a schedule night: colour"):
        store.move_night("office-hours", night, KEY, ["kept"], "planned", colour="red")


def test_a_nights_times_are_instants_whatever_their_time_zone(backend: Any) -> None:
    """A stop recorded at an `--at` in the schedule's zone, and a digest's week in the config's zone (Monday 00:00
    Berlin is Sunday 23:00 UTC), compare as the instants they are."""
    from zoneinfo import ZoneInfo

    store = _schedules(backend)
    berlin = ZoneInfo("Europe/Berlin")
    night = date(2026, 12, 1)
    store.add_nights([NightResource("office-hours", night, KEY, "team-ml", "nb", "stopping")])
    stop_at = datetime(2026, 12, 1, 19, tzinfo=berlin)  # 18:00 UTC
    assert store.move_night("office-hours", night, KEY, ["stopping"], "stopped", stopped_at=stop_at)
    (stopped,) = store.nights("office-hours", states=["stopped"])
    assert stopped.stopped_at == stop_at
    assert store.stopped_between(datetime(2026, 11, 30, tzinfo=berlin), datetime(2026, 12, 1, 18, 30, tzinfo=UTC))
    assert store.stopped_between(datetime(2026, 11, 30, tzinfo=berlin), datetime(2026, 12, 1, 19, tzinfo=berlin)) == []
    started = datetime(2026, 12, 2, 8, tzinfo=berlin)  # 07:00 UTC
    assert store.move_night("office-hours", night, KEY, ["stopped"], "started", started_at=started)
    assert store.stopped_between(datetime(2026, 12, 2, 7, 30, tzinfo=UTC), datetime(2026, 12, 3, tzinfo=UTC)) == []
    assert store.stopped_between(datetime(2026, 12, 2, 7, 30, tzinfo=berlin), datetime(2026, 12, 3, tzinfo=berlin))
