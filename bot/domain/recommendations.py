"""Idle and oversized rules: pure functions from a resource and its utilization to findings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from bot.domain.actions import ActionRequest
from bot.domain.resources import INVENTORY, INVOCATIONS, ResizeOption, Resource, Utilization

IDLE = "idle"
OVERSIZED = "oversized"
TIER = "tier"  # storage on a dearer tier than it needs (EBS gp2 -> gp3): changed in place, online
UNATTACHED = "unattached"  # storage nothing uses (an EBS volume attached to nothing): Snapshot & delete
ORPHANED = "orphaned"  # a copy whose original is gone, past its retention (an EBS snapshot): Delete
SPOT = "spot"  # a training run on on-demand capacity: use spot next time (Remind me on the next run / Dismiss)
SPOT_TAG = "costbot:spot"  # on a training run: `dismissed` (it and its later runs) or `remind-next-run` (it only)
SPOT_DISMISSED, SPOT_REMIND = "dismissed", "remind-next-run"


@dataclass(frozen=True)
class Rules:
    gpu_idle_percent: float = 5.0
    cpu_idle_percent: float = 10.0
    network_idle_bytes_per_hour: float = 5_000_000.0
    idle_hours: int = 24
    oversized_p95_percent: float = 30.0
    oversized_days: int = 7
    protect_tag: tuple[tuple[str, str], ...] = (("costbot", "protected"),)
    snooze_tag: str = "costbot:snooze-until"
    unattached_days: int = 14
    snapshot_retention_days: int = 90


@dataclass(frozen=True)
class Finding:
    kind: str  # idle | oversized
    reason: str
    target_type: str | None = None  # for oversized: the size to move to; for tier: the tier
    monthly_savings: Decimal | None = None
    price_ratio: Decimal | None = None  # tier: the target's price as a share of the current one


def is_protected(resource: Resource, rules: Rules) -> bool:
    tags = {k.lower(): v.lower() for k, v in resource.tags.items()}
    return any(tags.get(k.lower()) == v.lower() for k, v in rules.protect_tag)


def snoozed_until(resource: Resource, rules: Rules) -> date | None:
    raw = next((v for k, v in resource.tags.items() if k.lower() == rules.snooze_tag.lower()), None)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        return None


@dataclass(frozen=True)
class Cleared:
    """Why a resource is not flagged. `unknown` when there are not enough metrics to judge it either way: an
    open finding then stays open, and an action resting on it is refused with that reason."""

    reason: str
    unknown: bool = False


def _busiest(usage: Utilization) -> str:
    shown = [f"{name} {value:.0f}%" for name, value in (("GPU", usage.gpu_max), ("CPU", usage.cpu_max))
             if value is not None]
    return f" ({', '.join(shown)})" if shown else ""


def assess(resource: Resource, usage: Utilization, rules: Rules, today: date,
           resize: ResizeOption | None = None) -> Finding | Cleared:
    """The one judgement of a resource: a finding (idle beats spot for training, which beats
    oversized), or why there is none. Protected,
    snoozed, stopped or not running resources are never flagged; storage (`INVENTORY`) is judged on its tier.
    How idleness is judged is the resource's own (`idle_signal`); oversized needs a smaller size the provider
    offers (`resize`). Savings are the provider's estimates."""
    name = resource.name
    if is_protected(resource, rules):
        return Cleared(f"{name} is protected now")
    until = snoozed_until(resource, rules)
    if until is not None and until >= today:
        return Cleared(f"{name} is snoozed until {until.isoformat()}")
    if resource.idle_signal == INVENTORY:
        return _storage(resource, rules, today, resize)
    if not resource.running:
        return Cleared(f"{name} is {resource.state} now")
    if resource.stopped:
        return Cleared(f"{name} is down to {resource.count} instance(s) now")
    if resource.idle_signal == INVOCATIONS:
        if usage.hours < rules.idle_hours:
            return Cleared(f"{name} has {usage.hours} h of recent metrics; {rules.idle_hours} h are needed to "
                           "judge it", unknown=True)
        if (usage.invocations or 0) == 0:
            return Finding(IDLE, f"no invocations in {usage.hours} h", monthly_savings=resource.stop_savings)
        return Cleared(f"{name} is serving requests again ({usage.invocations:,.0f} in {usage.hours} h)")
    if usage.hours < rules.idle_hours or usage.cpu_max is None:
        return Cleared(f"{name} has {usage.hours} h of recent metrics; {rules.idle_hours} h are needed to judge it",
                       unknown=True)
    gpu_idle = usage.gpu_max is None or usage.gpu_max < rules.gpu_idle_percent
    cpu_idle = usage.cpu_max < rules.cpu_idle_percent
    net_idle = usage.network_max is None or usage.network_max < rules.network_idle_bytes_per_hour
    if gpu_idle and cpu_idle and net_idle:
        parts = [f"CPU ≤ {usage.cpu_max:.0f}%"]
        if usage.gpu_max is not None:
            parts.insert(0, f"GPU ≤ {usage.gpu_max:.0f}%")
        elif resource.gpu_expected:
            parts.append("GPU not measured")
        if usage.network_max is not None:
            parts.append(f"network ≤ {usage.network_max / 1e6:.1f} MB/h")
        return Finding(IDLE, f"idle for {usage.hours} h ({', '.join(parts)})", monthly_savings=resource.stop_savings)
    spot = _spot(resource)  # busy training on on-demand capacity: spot for its next run, before any resize
    if spot is not None:
        return spot
    busy = Cleared(f"{name} is busy again{_busiest(usage)}")
    if resize is None or not resource.supports("resize"):
        return busy
    if usage.days < rules.oversized_days:
        return Cleared(f"{name} is busy again{_busiest(usage)}; its size needs {rules.oversized_days} days of "
                       f"metrics to judge ({usage.days:.1f} so far)")
    busiest = max(p for p in (usage.cpu_p95, usage.gpu_p95) if p is not None) if usage.cpu_p95 is not None else None
    if busiest is not None and busiest < rules.oversized_p95_percent:
        return Finding(OVERSIZED, f"p95 utilization {busiest:.0f}% over {rules.oversized_days} days",
                       target_type=resize.target_type, monthly_savings=resize.monthly_savings)
    return Cleared(f"{name} is busy again (p95 {busiest:.0f}% over {rules.oversized_days} days)"
                   if busiest is not None else busy.reason)


def _spot(resource: Resource) -> Finding | None:
    """A training run on on-demand capacity that spot would have made cheaper: advice for its next run (the
    provider's words), with what spot would have saved; the scan replaces the saving with the run's billed cost."""
    if resource.spot_discount is None:
        return None
    return Finding(SPOT, resource.spot_reason or f"runs on on-demand capacity; spot typically saves "
                                                 f"{resource.spot_discount:.0%} on {resource.type}",
                   monthly_savings=resource.spot_savings, price_ratio=1 - resource.spot_discount)


def _storage(resource: Resource, rules: Rules, today: date, resize: ResizeOption | None) -> Finding | Cleared:
    """Storage is judged on what it is, not on metrics: nothing uses it and it is older than the rule's days
    (the provider offers `delete` only for what nothing uses), else a cheaper tier the provider offers for the
    same size and at least the same baseline performance (`resize`)."""
    spot = _spot(resource)
    if spot is not None:
        return spot
    if resource.supports("delete"):
        created = resource.launched_at.date() if resource.launched_at is not None else None
        age = (today - created).days if created is not None else None
        if resource.is_copy:
            if age is not None and age >= rules.snapshot_retention_days:
                kept = rules.snapshot_retention_days
                return Finding(ORPHANED, f"its volume is gone; taken {age} days ago (kept {kept}); deleting it "
                                         "cannot be undone",
                               monthly_savings=resource.delete_savings, price_ratio=resource.delete_price_ratio)
            return Cleared(f"{resource.name} is within its retention")
        if age is not None and age >= rules.unattached_days:
            return Finding(UNATTACHED, f"attached to nothing, created {age} days ago; a snapshot is kept",
                           monthly_savings=resource.delete_savings, price_ratio=resource.delete_price_ratio)
    if resize is not None and resource.supports("resize") and resize.target_type != resource.type:
        return Finding(TIER, f"{resource.type} → {resize.target_type}: same size, baseline performance at least "
                             "equal, changed online", target_type=resize.target_type,
                       monthly_savings=resize.monthly_savings, price_ratio=resize.price_ratio)
    return Cleared(f"{resource.name} is {resource.type} now")


def evaluate(resource: Resource, usage: Utilization, rules: Rules, today: date,
             resize: ResizeOption | None = None) -> Finding | None:
    """`assess`, keeping only a finding."""
    verdict = assess(resource, usage, rules, today, resize)
    return verdict if isinstance(verdict, Finding) else None


@dataclass(frozen=True)
class Recommendation:
    """An open finding about one resource, kept across scans (one per resource and kind)."""

    resource_key: str
    kind: str
    team: str | None
    name: str
    resource_type: str
    reason: str
    target_type: str | None = None
    hourly_price: Decimal | None = None
    monthly_savings: Decimal | None = None
    status: str = "open"
    id: int | None = None
    channel: str | None = None
    message_ts: str | None = None
    close_reason: str | None = None  # why it closed: acted on, busy again, gone, snoozed, protected


@dataclass(frozen=True)
class RecommendationView:
    """A row of a recommendations message: the finding and what happened to it so far."""

    recommendation: Recommendation
    request: ActionRequest | None = None
    undo_until: datetime | None = None
