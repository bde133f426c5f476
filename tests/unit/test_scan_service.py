"""ScanService on fakes: one message per owner team, one open finding per resource across scans, and findings that
no longer hold closed with their reason, their messages re-rendered once."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.domain.resources import ResizeOption, Utilization
from tests.fakes import BUSY_USAGE, IDLE_USAGE, FakeWorld, build_world

CHANNELS = {"#team-ml": "C0TEAMML1", "#team-data": "C0TEAMDAT", "#owners": "C0OWNERS1"}
CONFIG: dict[str, Any] = {
    "teams": {"team-ml": {"tags": {"team": "ml"}, "channel": "#team-ml", "approvers": ["U0APPROVE"]},
              "team-data": {"tags": {"team": "data"}, "channel": "#team-data", "approvers": ["U0DATA001"]}},
    "admins": ["U0ADMIN01"],
    "owners_channel": "#owners",
}
OVERSIZED = Utilization(hours=26, cpu_max=40.0, gpu_max=None, network_max=80_000_000.0, days=7.1, cpu_p95=20.0)


def estate() -> tuple[FakeWorld, dict[str, str]]:
    w = build_world(CONFIG, channel_ids=CHANNELS)
    p = w.provider
    keys = {
        "gpu-dev": p.add("i-1", name="gpu-dev", tags={"team": "ml"}, usage=IDLE_USAGE),
        "nb": p.add("i-2", name="nb", tags={"Team": "ML"}, usage=IDLE_USAGE, hourly_price=Decimal("0.2")),
        "train": p.add("i-3", name="train", tags={"team": "ml"}, usage=BUSY_USAGE),
        "keep-me": p.add("i-4", name="keep-me", tags={"team": "ml", "costbot": "protected"}, usage=IDLE_USAGE),
        "snoozed": p.add("i-5", name="snoozed", tags={"team": "ml", "costbot:snooze-until": "2026-12-01"},
                         usage=IDLE_USAGE),
        "off": p.add("i-6", name="off", tags={"team": "ml"}, state="stopped", usage=IDLE_USAGE),
        "etl-big": p.add("i-7", name="etl-big", type="m5.4xlarge", tags={"team": "data"}, usage=OVERSIZED,
                         resize_to=ResizeOption("m5.2xlarge", Decimal("280.32"))),
        "orphan": p.add("i-8", name="orphan", tags={}, usage=IDLE_USAGE),
    }
    return w, keys


def test_one_message_per_owner_team_listing_only_what_is_idle_or_oversized() -> None:
    w, _ = estate()
    result = w.use_cases.scans.scan()
    assert result.resources == 8
    assert sorted((r.name, r.kind, r.team) for r in result.recommendations) == [
        ("etl-big", "oversized", "team-data"), ("gpu-dev", "idle", "team-ml"), ("nb", "idle", "team-ml"),
        ("orphan", "idle", None)]
    posted = {(p.channel, p.team): [row.recommendation.name for row in p.rows] for p in w.action_notifier.posted}
    assert posted == {("C0TEAMML1", "team-ml"): ["gpu-dev", "nb"], ("C0TEAMDAT", "team-data"): ["etl-big"],
                      ("C0OWNERS1", None): ["orphan"]}
    assert result.posted == {"C0TEAMML1": 2, "C0TEAMDAT": 1, "C0OWNERS1": 1}
    # gpu-dev and orphan at 1.006 $/h, nb at 0.2 $/h, for 730 h; etl-big's resize saving
    assert result.monthly_savings == Decimal("1.006") * 730 * 2 + Decimal("0.2") * 730 + Decimal("280.32")
    assert result.requests == {"list": 1, "utilization": 1}  # one batch of metrics, whatever the number
    ml = next(p for p in w.action_notifier.posted if p.team == "team-ml")
    assert [r.name for r in w.action_store.recommendations_in_message(ml.channel, ml.ts)] == ["gpu-dev", "nb"]
    assert w.action_notifier.updated == []


def test_a_rescan_keeps_one_open_finding_per_resource() -> None:
    w, _ = estate()
    first = w.use_cases.scans.scan(post=False)
    again = w.use_cases.scans.scan(post=False)
    assert sorted(r.id for r in again.recommendations) == sorted(r.id for r in first.recommendations)
    assert len(w.action_store.open_recommendations()) == 4 and again.closed == 0
    assert w.action_notifier.posted == []


def test_what_no_longer_holds_is_closed_with_its_reason_and_its_message_refreshed_once() -> None:
    w, keys = estate()
    w.use_cases.scans.scan()
    ml = next(p for p in w.action_notifier.posted if p.team == "team-ml")
    owners = next(p for p in w.action_notifier.posted if p.team is None)
    w.provider.usage[keys["gpu-dev"]] = BUSY_USAGE
    w.provider.remove(keys["nb"])
    w.provider.set_tags(keys["orphan"], **{"costbot:snooze-until": "2026-12-05"})
    result = w.use_cases.scans.scan(post=False)
    assert result.closed == 3 and [r.name for r in result.recommendations] == ["etl-big"]
    reasons = {r.name: r.close_reason for r in (w.action_store.recommendation_for(k) for k in keys.values()) if r}
    assert reasons == {"gpu-dev": "gpu-dev is busy again (GPU 95%, CPU 80%)", "nb": "the resource no longer exists",
                       "orphan": "orphan is snoozed until 2026-12-05", "etl-big": None}
    updates = {(u.channel, u.ts): [(row.recommendation.name, row.recommendation.status) for row in u.rows]
               for u in w.action_notifier.updated}
    assert len(w.action_notifier.updated) == 2  # each message once, however many of its rows closed
    assert updates == {(ml.channel, ml.ts): [("gpu-dev", "closed"), ("nb", "closed")],
                       (owners.channel, owners.ts): [("orphan", "closed")]}
    assert len(w.action_notifier.posted) == 3  # nothing new was posted


def test_a_finding_that_comes_back_is_a_new_one() -> None:
    w, keys = estate()
    first = {r.name: r.id for r in w.use_cases.scans.scan(post=False).recommendations}
    w.provider.usage[keys["gpu-dev"]] = BUSY_USAGE
    w.use_cases.scans.scan(post=False)
    w.provider.usage[keys["gpu-dev"]] = IDLE_USAGE
    back = {r.name: r.id for r in w.use_cases.scans.scan(post=False).recommendations}
    assert back["gpu-dev"] != first["gpu-dev"] and back["nb"] == first["nb"]
