"""The SQLAlchemy state store on SQLite and PostgreSQL: migrations keep state, guards hold under races."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect

from bot.adapters.state.database import make_engine, upgrade
from bot.adapters.state.repository import SqlLeaseStore, SqlSubscriptionStore
from bot.domain.subscriptions import Subscription


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> SqlSubscriptionStore:
    url = f"sqlite:///{tmp_path / 'state.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    engine = make_engine(url)
    upgrade(engine)
    return SqlSubscriptionStore(engine)


def test_upgrade_is_idempotent_and_keeps_state(store: SqlSubscriptionStore) -> None:
    sub = store.upsert_subscription(Subscription("C1", "team-ml", "daily", "0 9 * * *", "UTC", created_by="U1"))
    upgrade(store.engine)
    upgrade(store.engine)
    assert store.subscriptions() == [sub]
    assert {"subscriptions", "digest_runs", "leases", "alembic_version"} <= set(inspect(store.engine).get_table_names())


def test_subscription_upsert_and_remove(store: SqlSubscriptionStore) -> None:
    a = store.upsert_subscription(Subscription("C1", "team-ml", "daily", "0 9 * * *", "UTC"))
    b = store.upsert_subscription(Subscription("C1", "team-ml", "weekly", "0 9 * * mon", "UTC"))
    assert a.id == b.id and store.subscription(a.id).cron == "0 9 * * mon"  # type: ignore[arg-type,union-attr]
    store.upsert_subscription(Subscription("C2", "team-ml", "daily", "0 9 * * *", "UTC", origin="config"))
    assert store.remove_config_subscriptions_except(set()) == 1
    assert store.remove_subscription("C1", "team-ml") is not None
    assert store.remove_subscription("C1", "team-ml") is None
    assert store.subscriptions() == []


def test_claim_run_is_won_by_exactly_one_of_many(store: SqlSubscriptionStore) -> None:
    wins: list[bool] = []
    barrier = threading.Barrier(8)

    def claim() -> None:
        barrier.wait()
        wins.append(store.claim_run(7, "2026-11-28T09:00:00+00:00"))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 7 + [True]
    assert store.finish_run(7, "2026-11-28T09:00:00+00:00", ok=False, error="boom") == 1
    assert store.claim_run(7, "2026-11-28T09:00:00+00:00") is True  # a failed run may be retried
    store.finish_run(7, "2026-11-28T09:00:00+00:00", ok=True)
    assert store.claim_run(7, "2026-11-28T09:00:00+00:00") is False


def test_lease_has_one_holder(store: SqlSubscriptionStore) -> None:
    store = SqlLeaseStore(store.engine)  # type: ignore[assignment]
    ttl = timedelta(seconds=60)
    assert store.acquire_lease("scheduler", "a", ttl) is True
    assert store.acquire_lease("scheduler", "b", ttl) is False
    assert store.acquire_lease("scheduler", "a", ttl) is True  # renew
    store.release_lease("scheduler", "a")
    assert store.acquire_lease("scheduler", "b", ttl) is True
    assert store.acquire_lease("scheduler", "a", timedelta(seconds=-1)) is False
    # an expired lease is taken over
    assert store.acquire_lease("other", "x", timedelta(seconds=-1)) is True
    assert store.acquire_lease("other", "y", ttl) is True
    holder = store.lease_holder("other")
    assert holder is not None and holder[0] == "y"


@pytest.fixture(params=["sqlite", "postgresql"])
def action_store(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    from bot.adapters.state.actions_repository import SqlActionStore

    url = f"sqlite:///{tmp_path / 'state.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    engine = make_engine(url)
    upgrade(engine)
    return SqlActionStore(engine)


def test_only_one_of_twenty_concurrent_transitions_wins(action_store) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    req, created = action_store.create_request(resource_key="aws|1|r|ec2|i-1", action="stop", team="t",
                                               requested_by="U1", status="approved",
                                               expires_at=datetime.now(UTC) + timedelta(hours=1))
    assert created
    wins: list[bool] = []
    barrier = threading.Barrier(20)

    def go() -> None:
        barrier.wait()
        wins.append(action_store.transition(req.id, ["approved"], "executing", owner="p1"))

    threads = [threading.Thread(target=go) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 1
    assert action_store.request(req.id).status == "executing"
    assert action_store.transition(req.id, ["approved"], "executing", owner="p2") is False
    assert action_store.transition(req.id, ["executing"], "succeeded", owner="p2", result="stopped") is False
    assert action_store.transition(req.id, ["executing"], "succeeded", owner="p1", result="stopped") is True
    assert action_store.request(req.id).result == "stopped"


def test_one_open_recommendation_per_resource_and_kind(action_store) -> None:  # type: ignore[no-untyped-def]
    from decimal import Decimal

    from bot.domain.recommendations import Recommendation

    rec = Recommendation(resource_key="aws|1|r|ec2|i-1", kind="idle", team="t", name="box", resource_type="g5.xlarge",
                         reason="idle", monthly_savings=Decimal("734.38"))
    a = action_store.upsert_recommendation(rec)
    b = action_store.upsert_recommendation(rec)
    assert a.id == b.id and len(action_store.open_recommendations()) == 1
    assert action_store.open_recommendations()[0].monthly_savings == Decimal("734.38")
    (closed,) = action_store.close_recommendations(set(), reasons={"aws|1|r|ec2|i-1": "box is busy again"})
    assert closed.id == a.id and closed.close_reason == "box is busy again"
    c = action_store.upsert_recommendation(rec)
    assert c.id != a.id  # closed ones stay closed; a new finding is a new recommendation


def test_one_open_request_per_resource_under_fifty_concurrent_inserts(action_store) -> None:  # type: ignore[no-untyped-def]
    """The database, not a check-then-insert, keeps one open action per resource."""
    from datetime import UTC, datetime

    expires = datetime.now(UTC) + timedelta(hours=1)
    barrier = threading.Barrier(50)
    results: list[tuple[int, bool]] = []
    lock = threading.Lock()

    def go(i: int) -> None:
        barrier.wait()
        req, created = action_store.create_request(resource_key="aws|1|r|ec2|i-9", action="stop", team="t",
                                                   requested_by=f"U{i}", status="approved", expires_at=expires)
        with lock:
            results.append((req.id, created))

    threads = [threading.Thread(target=go, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [c for _, c in results].count(True) == 1
    assert len({rid for rid, _ in results}) == 1  # everyone else got the one open request
    (rid,) = {rid for rid, _ in results}
    assert action_store.open_request("aws|1|r|ec2|i-9").id == rid
    # a final state frees the resource for the next action
    assert action_store.transition(rid, ["approved"], "expired")
    assert action_store.open_request("aws|1|r|ec2|i-9") is None
    nxt, created = action_store.create_request(resource_key="aws|1|r|ec2|i-9", action="stop", team="t",
                                               requested_by="U1", status="requested", expires_at=expires)
    assert created and nxt.id != rid


def test_heartbeats_keep_a_live_executor_out_of_reconciliation(action_store) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    expires = datetime.now(UTC) + timedelta(hours=1)
    req, _ = action_store.create_request(resource_key="aws|1|r|ec2|i-7", action="stop", team="t", requested_by="U1",
                                         status="approved", expires_at=expires)
    assert action_store.transition(req.id, ["approved"], "executing", owner="alive")
    assert action_store.abandoned(datetime.now(UTC) - timedelta(seconds=60)) == []
    assert action_store.heartbeat(req.id, "alive") and not action_store.heartbeat(req.id, "someone-else")
    later = datetime.now(UTC) + timedelta(seconds=1)
    assert [r.id for r in action_store.abandoned(later)] == [req.id]  # silent since `later`: gone
    assert not action_store.transition(req.id, ["executing"], "failed", silent_since=datetime.now(UTC)
                                       - timedelta(seconds=60))
    assert action_store.request(req.id).status == "executing"


def test_a_click_is_claimed_once(action_store) -> None:  # type: ignore[no-untyped-def]
    assert action_store.claim_click("k1") == (True, None)
    assert action_store.claim_click("k1") == (False, None)
    action_store.set_click_request("k1", 42)
    assert action_store.claim_click("k1") == (False, 42)


def test_a_transition_outside_the_state_machine_is_refused(action_store) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from bot.domain.actions import ActionNotAllowed

    req, _ = action_store.create_request(resource_key="aws|1|r|ec2|i-5", action="stop", team="t", requested_by="U1",
                                         status="requested", expires_at=datetime.now(UTC) + timedelta(hours=1))
    with pytest.raises(ActionNotAllowed, match="this request is already requested; it cannot become executing"):
        action_store.transition(req.id, ["requested"], "executing", owner="p1")  # approval skipped
    assert action_store.transition(req.id, ["requested"], "rejected")
    with pytest.raises(ActionNotAllowed, match="already rejected; it cannot become approved"):
        action_store.transition(req.id, ["rejected"], "approved")
    assert action_store.request(req.id).status == "rejected"


def test_migration_keeps_one_open_request_per_resource(tmp_path: Path) -> None:
    """Open requests from before one-action-per-resource: an executing one keeps its resource, the newest
    otherwise; duplicates still waiting expire; nothing executing is lost."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from bot.adapters.state.database import MIGRATIONS, make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
    rows = [(1, "aws|1|r|ec2|a", "executing"), (2, "aws|1|r|ec2|a", "requested"),
            (3, "aws|1|r|ec2|b", "requested"), (4, "aws|1|r|ec2|b", "approved"), (5, "aws|1|r|ec2|c", "succeeded")]
    with engine.begin() as connection:
        for rid, key, status in rows:
            connection.execute(text(
                "INSERT INTO action_requests (id, resource_key, action, params, requested_by, status, created_at, "
                "expires_at, updated_at) VALUES (:i, :k, 'stop', '{}', 'U1', :s, '2026-11-01 00:00:00', "
                "'2026-12-01 00:00:00', '2026-11-01 00:00:00')"), {"i": rid, "k": key, "s": status})
    upgrade(engine)
    with engine.begin() as connection:
        got = {r[0]: (r[1], r[2]) for r in connection.execute(
            text("SELECT id, status, open_key FROM action_requests ORDER BY id"))}
    assert got == {1: ("executing", "aws|1|r|ec2|a"), 2: ("expired", None), 3: ("expired", None),
                   4: ("approved", "aws|1|r|ec2|b"), 5: ("succeeded", None)}


def test_every_time_column_keeps_the_instant_whatever_its_zone(store: SqlSubscriptionStore) -> None:
    """20:00 in Berlin is 19:00 UTC, written, compared and read back as that instant on SQLite (which drops a
    datetime's zone) as on PostgreSQL."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from bot.adapters.state.models import SubscriptionRow

    berlin = datetime(2026, 12, 1, 20, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    with Session(store.engine) as s, s.begin():
        s.add(SubscriptionRow(channel="C9", scope="team-ml", cadence="daily", cron="0 9 * * *", timezone="UTC",
                              origin="slack", created_at=berlin))
    with Session(store.engine) as s:
        row = s.scalar(select(SubscriptionRow).where(SubscriptionRow.channel == "C9"))
        assert row is not None and row.created_at == datetime(2026, 12, 1, 19, 0, tzinfo=UTC)
        assert row.created_at.utcoffset() == timedelta(0)
        later = select(SubscriptionRow.id).where(SubscriptionRow.created_at > datetime(2026, 12, 1, 19, 30, tzinfo=UTC))
        assert s.scalars(later).all() == []
        earlier = datetime(2026, 12, 1, 19, 30, tzinfo=ZoneInfo("Europe/Berlin"))  # 18:30 UTC
        assert s.scalars(select(SubscriptionRow.id).where(SubscriptionRow.created_at > earlier)).all() == [row.id]
