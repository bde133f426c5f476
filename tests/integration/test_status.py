"""`costbot status`: the figures an operator asks first, exactly, from a store and a state database seeded with a
waiting approval, a failed action, a failed digest and a scheduler lease."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.adapters.state.actions_repository import SqlActionStore
from bot.adapters.state.database import StateDatabase
from bot.adapters.state.repository import SqlLeaseStore, SqlSubscriptionStore
from bot.domain.actions import AuditEntry
from bot.domain.subscriptions import Subscription


def test_status_reports_store_sources_scheduler_approvals_and_errors(
        cli: Callable[..., Any], demo_store: tuple[Path, Path], tmp_path: Path, monkeypatch: Any) -> None:
    config = tmp_path / "costbot.yml"
    config.write_text(yaml.safe_dump({"timezone": "UTC", "sync_every_hours": 6,
                                      "teams": {"team-ml": {"tags": {"team": "ml"}, "channel": "C0TEAMML1"}},
                                      "sources": [{"kind": "focus_files", "name": "lake", "path": str(tmp_path)}]}))
    url = f"sqlite:///{tmp_path / 'state.db'}"
    monkeypatch.setenv("COSTBOT_DATA_DIR", str(demo_store[0]))
    monkeypatch.setenv("COSTBOT_CONFIG", str(config))
    monkeypatch.setenv("DATABASE_URL", url)
    state = StateDatabase(url)
    actions = SqlActionStore(state)
    waiting, _ = actions.create_request(resource_key="aws|123456789012|us-east-1|ec2|i-0abc", action="stop",
                                        team="team-ml", requested_by="U0MEMBER1", status="requested",
                                        expires_at=datetime(2099, 1, 1, tzinfo=UTC))
    failed_at = datetime.now(UTC) - timedelta(hours=1)
    actions.add_audit(AuditEntry(failed_at, "U0ML00001", "stop", "aws|123456789012|us-east-1|ec2|i-0def", "running",
                                 None, "failed", error="AWS ec2 StopInstances failed: not allowed (ref 1234abcd)"))
    subs = SqlSubscriptionStore(state)
    sub = subs.upsert_subscription(Subscription(channel="C0TEAMML1", scope="team-ml", cadence="daily",
                                                cron="0 9 * * *", timezone="UTC", origin="slack"))
    assert sub.id is not None and subs.claim_run(sub.id, "2026-11-27T09:00:00+00:00")
    subs.finish_run(sub.id, "2026-11-27T09:00:00+00:00", ok=False, error="channel_not_found")
    SqlLeaseStore(state).acquire_lease("scheduler", "web-1-4242-abcdef", timedelta(seconds=30))
    state.engine.dispose()

    result = cli("status", "--json")
    assert result.code == 0, result.err
    report = result.json()
    assert report["version"] == "0.1.0"
    assert report["store"] == "opened by this command (no costbot service holds it)"
    assert report["rows"] == 3717 and report["data_through"] == "2026-11-27"
    assert report["advice"] == []  # one machine serves this store well: no warehouse recommended
    assert [(s["name"], s["rows"], s["configured"]) for s in report["sources"]] == [("demo", 3717, False),
                                                                                     ("lake", 0, True)]
    assert report["scheduler"]["leader"] == "web-1-4242-abcdef"
    times = [r["at"] for r in report["scheduler"]["next_runs"]]
    assert times == sorted(times)  # soonest first
    upkeep = next(r for r in report["scheduler"]["next_runs"] if r["job"] == "upkeep")
    assert upkeep["at"][14:16] in {"00", "10", "20", "30", "40", "50"}  # anchored: every 10 minutes on the tens
    assert {r["job"] for r in report["scheduler"]["next_runs"]} == {"upkeep", "insights", "sync", f"digest-{sub.id}"}
    digest_run = next(r for r in report["scheduler"]["next_runs"] if r["job"] == f"digest-{sub.id}")
    assert digest_run["at"].endswith("T09:00:00+00:00") and digest_run["what"] == "digest team-ml -> C0TEAMML1"
    assert report["approvals"] == [{"id": waiting.id, "action": "stop", "resource": waiting.resource_key,
                                    "team": "team-ml", "requested_by": "U0MEMBER1",
                                    "expires_at": "2099-01-01T00:00:00+00:00"}]
    errors = {(e["what"], e["error"]) for e in report["errors"]}
    assert errors == {("stop i-0def", "AWS ec2 StopInstances failed: not allowed (ref 1234abcd)"),
                      (f"digest {sub.id} due 2026-11-27T09:00:00+00:00", "channel_not_found"),
                      ("source lake", "no successful sync in 12 h")}

    table = cli("status")
    assert table.code == 0, table.err
    for text in ("web-1-4242-abcdef", "Waiting for approval", "i-0abc", "channel_not_found", "data through"):
        assert text in table.out
