"""The SQLAlchemy state store on SQLite and PostgreSQL: migrations keep state, guards hold under races."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect

from bot.adapters.state.database import make_engine, upgrade
from bot.adapters.state.repository import SqlStateStore
from bot.domain.subscriptions import Subscription


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> SqlStateStore:
    url = f"sqlite:///{tmp_path / 'state.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    engine = make_engine(url)
    upgrade(engine)
    return SqlStateStore(engine)


def test_upgrade_is_idempotent_and_keeps_state(store: SqlStateStore) -> None:
    sub = store.upsert_subscription(Subscription("C1", "team-ml", "daily", "0 9 * * *", "UTC", created_by="U1"))
    upgrade(store.engine)
    upgrade(store.engine)
    assert store.subscriptions() == [sub]
    assert {"subscriptions", "digest_runs", "leases", "alembic_version"} <= set(inspect(store.engine).get_table_names())


def test_subscription_upsert_and_remove(store: SqlStateStore) -> None:
    a = store.upsert_subscription(Subscription("C1", "team-ml", "daily", "0 9 * * *", "UTC"))
    b = store.upsert_subscription(Subscription("C1", "team-ml", "weekly", "0 9 * * mon", "UTC"))
    assert a.id == b.id and store.subscription(a.id).cron == "0 9 * * mon"  # type: ignore[arg-type,union-attr]
    store.upsert_subscription(Subscription("C2", "team-ml", "daily", "0 9 * * *", "UTC", origin="config"))
    assert store.remove_config_subscriptions_except(set()) == 1
    assert store.remove_subscription("C1", "team-ml") is not None
    assert store.remove_subscription("C1", "team-ml") is None
    assert store.subscriptions() == []


def test_claim_run_is_won_by_exactly_one_of_many(store: SqlStateStore) -> None:
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


def test_lease_has_one_holder(store: SqlStateStore) -> None:
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
