"""Storage is judged on what it is: an unattached volume past `unattached_days`, a snapshot of a gone volume
past its retention, a cheaper tier the provider offers — never a protected or snoozed one."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from bot.domain.recommendations import ORPHANED, TIER, UNATTACHED, Cleared, Finding, Rules, assess
from bot.domain.resources import INVENTORY, ResizeOption, Resource, ResourceRef, Utilization

TODAY = date(2026, 11, 28)
NONE = Utilization(hours=0)


def storage(kind: str = "volume", *, can: frozenset[str] = frozenset({"resize", "delete"}), created: date,
            copy: bool = False, tags: dict[str, str] | None = None, vtype: str = "gp2") -> Resource:
    return Resource(ResourceRef("aws", "1", "us-east-1", kind, "x-1"), name="data", type=vtype, state="available",
                    tags=tags or {}, launched_at=datetime(created.year, created.month, created.day, tzinfo=UTC),
                    capabilities=can, idle_signal=INVENTORY, delete_savings=Decimal("10.00"),  # type: ignore[arg-type]
                    delete_price_ratio=Decimal("0.5"), is_copy=copy)


def test_an_unattached_volume_is_offered_snapshot_and_delete_from_its_days_on() -> None:
    rules = Rules(unattached_days=14)
    young = assess(storage(created=date(2026, 11, 15)), NONE, rules, TODAY)  # 13 days
    assert isinstance(young, Cleared) and young.reason == "data is gp2 now"
    old = assess(storage(created=date(2026, 11, 14)), NONE, rules, TODAY)
    assert old == Finding(UNATTACHED, "attached to nothing, created 14 days ago; a snapshot is kept",
                          monthly_savings=Decimal("10.00"), price_ratio=Decimal("0.5"))


def test_unattached_beats_a_cheaper_tier_and_an_attached_one_gets_the_tier() -> None:
    tier = ResizeOption("gp3", Decimal("1.88"), Decimal("0.812"))
    unused = assess(storage(created=date(2026, 1, 1)), NONE, Rules(), TODAY, resize=tier)
    assert isinstance(unused, Finding) and unused.kind == UNATTACHED
    attached = assess(storage(can=frozenset({"resize"}), created=date(2026, 1, 1)), NONE, Rules(), TODAY, resize=tier)
    assert isinstance(attached, Finding) and (attached.kind, attached.target_type, attached.price_ratio) == (
        TIER, "gp3", Decimal("0.812"))


def test_a_snapshot_of_a_gone_volume_waits_out_its_retention() -> None:
    rules = Rules(snapshot_retention_days=90)
    kept = assess(storage("snapshot", can=frozenset({"delete"}), created=date(2026, 9, 1), copy=True), NONE, rules,
                  TODAY)
    assert isinstance(kept, Cleared) and kept.reason == "data is within its retention"
    due = assess(storage("snapshot", can=frozenset({"delete"}), created=date(2026, 8, 30), copy=True), NONE, rules,
                 TODAY)
    assert isinstance(due, Finding) and due.kind == ORPHANED
    assert due.reason == "its volume is gone; taken 90 days ago (kept 90); deleting it cannot be undone"


def test_protected_and_snoozed_storage_is_never_offered() -> None:
    old = date(2026, 1, 1)
    protected = assess(storage(created=old, tags={"costbot": "protected"}), NONE, Rules(), TODAY)
    snoozed = assess(storage(created=old, tags={"costbot:snooze-until": "2026-12-31"}), NONE, Rules(), TODAY)
    assert isinstance(protected, Cleared) and isinstance(snoozed, Cleared)
