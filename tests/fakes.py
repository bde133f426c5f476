"""In-memory fakes of the ports (bot/ports.py), for fast tests of the use cases and the Slack listeners.

Each fake keeps the guarantees its port documents (one open action per resource, conditional transitions, a
click claimed once, a digest run or a budget alert claimed once, …) and rounds money as the state database's
columns do, so that a service behaves on a fake as it does on the real adapter. The contract tests in
tests/integration/test_port_contracts.py run the same scenarios against both, so the two cannot drift.
Integration tests keep using the real parts.
"""

from __future__ import annotations

import fnmatch
import itertools
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from bot.adapters.sql_compile import ALLOWED_COLUMNS
from bot.config import CostbotConfig, parse_config
from bot.domain.actions import (
    FINAL,
    OPEN,
    ActionNotAllowed,
    ActionRequest,
    AuditEntry,
    action_kind,
    check_transition,
    status_of,
)
from bot.domain.anomalies import Anomaly
from bot.domain.budgets import BudgetStatus, Threshold
from bot.domain.digest import Digest
from bot.domain.errors import CostbotError, NotifyError, ProviderError
from bot.domain.estimate import GuardCheck, PlanApproval
from bot.domain.experiments import TrackedRun
from bot.domain.figures import DailyRow, Totals
from bot.domain.recommendations import Recommendation, RecommendationView
from bot.domain.resources import (
    HOURS_PER_MONTH,
    POWER_OFF,
    UTILIZATION,
    Capability,
    ResizeOption,
    Resource,
    ResourceRef,
    Utilization,
)
from bot.domain.schedules import HeadsUp, NightReport, NightResource, ScheduleEvent
from bot.domain.spec import (
    DIRECT,
    KEY_SEPARATOR,
    NONE_KEY,
    UNTAGGED,
    AllOf,
    AnyOf,
    ColumnGlob,
    ColumnIn,
    Condition,
    CostSpec,
    Grouping,
    TagMissing,
    TagsMatch,
    TeamIs,
    TeamRule,
)
from bot.domain.subscriptions import Subscription
from bot.services.container import UseCases

ZERO = Decimal(0)
CENTS = Decimal("0.01")
MICROS = Decimal("0.000001")


def _numeric(value: Decimal | None, step: Decimal) -> Decimal | None:
    """What a NUMERIC(18, n) column hands back: the value rounded to its scale."""
    return None if value is None else Decimal(value).quantize(step, rounding=ROUND_HALF_UP)


def _now() -> datetime:
    return datetime.now(UTC)


class FakeClock:
    """A clock a test moves by hand; services and fake stores share it (expiry, undo windows, leases)."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 11, 28, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


# -- billing data ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LineItem:
    """One FOCUS line item. `cost` is EffectiveCost; BilledCost is `billed`, or the same as `cost`. Any other
    filterable column can be given in `columns` (FOCUS names)."""

    day: date
    cost: Decimal
    service: str | None = "Amazon Elastic Compute Cloud"
    tags: Mapping[str, str] = field(default_factory=dict)
    resource_id: str | None = None
    resource_name: str | None = None
    account: str | None = "111122223333"
    region: str | None = "us-east-1"
    category: str | None = "Usage"
    usage_type: str | None = None
    hours: Decimal | None = None  # ConsumedQuantity, in hours
    billed: Decimal | None = None
    source: str = "fake"
    columns: Mapping[str, str | None] = field(default_factory=dict)
    allocated_tags: Mapping[str, str] | None = None  # a split (allocated) charge's AllocatedTags

    def column(self, name: str) -> str | None:
        if name in self.columns:
            return self.columns[name]
        return {"ServiceName": self.service, "SubAccountId": self.account, "BillingAccountId": self.account,
                "RegionId": self.region, "ResourceId": self.resource_id, "ResourceName": self.resource_name,
                "ChargeCategory": self.category, "x_UsageType": self.usage_type,
                "ProviderName": "AWS"}.get(name)

    def metric(self, metric: str) -> Decimal:
        if metric == "BilledCost" and self.billed is not None:
            return self.billed
        return self.cost

    def tag(self, key: str, column: str = "Tags") -> str | None:
        """The tag's value under any spelling of its key (case-insensitive), empty as missing — as the SQL
        compiler's coalesce over the spellings found in the data, in their sorted order."""
        tags = self.tags if column == "Tags" else (self.allocated_tags or {})
        found = [v for k, v in sorted(tags.items()) if k.lower() == key.lower() and v != ""]
        return found[0] if found else None


class FakeCostQueries:
    """CostQueries over line items in memory, with the SQL compiler's semantics (bot/adapters/sql_compile.py):
    tag keys and values match case-insensitively, empty tags count as missing, `end` is exclusive, groups come
    largest first (ties by key), daily rows by day then key, and sums are exact decimals."""

    def __init__(self, items: Iterable[LineItem] = ()) -> None:
        self.items: list[LineItem] = list(items)
        self._lock = threading.Lock()

    def add(self, *items: LineItem) -> None:
        with self._lock:
            self.items.extend(items)

    # -- the compiler's semantics ------------------------------------------------------------------------------
    @classmethod
    def holds(cls, item: LineItem, cond: Condition) -> bool:
        if isinstance(cond, TagsMatch):
            return all((value := item.tag(k, cond.column)) is not None and value.lower() == v.lower()
                       for k, v in cond.pairs)
        if isinstance(cond, ColumnGlob):
            value = item.column(cond.column)
            return value is not None and any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in cond.patterns)
        if isinstance(cond, AnyOf):
            return any(cls.holds(item, c) for c in cond.conditions)
        if isinstance(cond, TeamIs):
            return cls.team(item, cond.rules) == cond.name
        if isinstance(cond, ColumnIn):
            if cond.column not in ALLOWED_COLUMNS:
                raise ValueError(f"column {cond.column} cannot be filtered")
            value = item.column(cond.column)
            return value is not None and value.lower() in {v.lower() for v in cond.values}
        if isinstance(cond, TagMissing):
            return item.tag(cond.key) is None
        if isinstance(cond, AllOf):
            return all(cls.holds(item, c) for c in cond.conditions)
        raise TypeError(cond)

    @classmethod
    def team(cls, item: LineItem, rules: Sequence[TeamRule]) -> str:
        """Claims on an allocated charge (`first`) of every team before any team's tags."""
        claims = [r.name for r in rules if r.first is not None and cls.holds(item, r.first)]
        return next(iter(claims), next((r.name for r in rules if cls.holds(item, r.match)), UNTAGGED))

    @classmethod
    def key(cls, item: LineItem, grouping: Grouping) -> str:
        if grouping.then is not None:
            first = cls.key(item, Grouping(grouping.kind, grouping.target, grouping.teams, rules=grouping.rules))
            return first + KEY_SEPARATOR + cls.key(item, grouping.then)
        if grouping.kind == "teams":
            if not grouping.teams:
                return item.tag(grouping.target) or UNTAGGED
            return cls.team(item, grouping.teams)
        if grouping.kind == "rules":
            return next((name for name, cond in grouping.rules if cls.holds(item, cond)), DIRECT)
        if grouping.kind == "tag":
            return item.tag(grouping.target) or UNTAGGED
        if grouping.kind == "column":
            if grouping.target not in ALLOWED_COLUMNS:
                raise ValueError(f"column {grouping.target} cannot be grouped on")
            value = item.column(grouping.target)
            return NONE_KEY if value is None else value
        if grouping.kind == "time":
            if grouping.target == "month":
                return item.day.strftime("%Y-%m")
            day = item.day - timedelta(days=item.day.weekday()) if grouping.target == "week" else item.day
            return day.isoformat()
        raise ValueError(grouping.kind)

    def _matching(self, spec: CostSpec, start: date, end: date) -> list[LineItem]:
        with self._lock:
            items = list(self.items)
        return [i for i in items if start <= i.day < end and all(self.holds(i, c) for c in spec.conditions)]

    # -- the port ------------------------------------------------------------------------------------------------
    def totals(self, spec: CostSpec, previous: tuple[date, date]) -> Totals:
        now = self._matching(spec, spec.start, spec.end)
        before = self._matching(spec, previous[0], previous[1])
        return Totals(current=sum((i.metric(spec.metric) for i in now), ZERO),
                      previous=sum((i.metric(spec.metric) for i in before), ZERO),
                      untagged=sum((i.metric(spec.metric) for i in now if i.tag(spec.untagged_key) is None), ZERO))

    def groups(self, spec: CostSpec, grouping: Grouping, top: int | None = None) -> list[tuple[str, Decimal]]:
        sums: dict[str, Decimal] = {}
        for item in self._matching(spec, spec.start, spec.end):
            k = self.key(item, grouping)
            sums[k] = sums.get(k, ZERO) + item.metric(spec.metric)
        return sorted(sums.items(), key=lambda kv: (-kv[1], kv[0]))

    def daily(self, spec: CostSpec, grouping: Grouping) -> list[DailyRow]:
        sums: dict[tuple[date, str], Decimal] = {}
        for item in self._matching(spec, spec.start, spec.end):
            k = (item.day, self.key(item, grouping))
            sums[k] = sums.get(k, ZERO) + item.metric(spec.metric)
        return [DailyRow(d, k, c) for (d, k), c in sorted(sums.items())]

    def quantities(self, spec: CostSpec, grouping: Grouping) -> list[tuple[str, Decimal]]:
        sums: dict[str, Decimal] = {}
        for item in self._matching(spec, spec.start, spec.end):
            if item.hours is not None:
                k = self.key(item, grouping)
                sums[k] = sums.get(k, ZERO) + item.hours
        return sorted(sums.items(), key=lambda kv: (-kv[1], kv[0]))

    def freshness(self) -> date | None:
        with self._lock:
            return max((i.day for i in self.items), default=None)

    def first_day(self) -> date | None:
        with self._lock:
            return min((i.day for i in self.items), default=None)

    def tag_keys(self) -> Sequence[str]:
        with self._lock:
            return sorted({k for i in self.items for k in i.tags})

    def tag_values(self, key: str) -> list[str]:
        with self._lock:
            return sorted({v for i in self.items if (v := i.tag(key)) is not None})

    def resource_names(self) -> dict[str, str]:
        names: dict[str, str] = {}
        with self._lock:
            for i in self.items:
                if i.resource_id:
                    names[i.resource_id] = max(names.get(i.resource_id, ""), i.resource_name or "")
        return names

    def distinct_values(self, column: str) -> list[str]:
        if column not in ALLOWED_COLUMNS:
            raise ValueError(column)
        with self._lock:
            return sorted({v for i in self.items if (v := i.column(column)) is not None})

    def row_count(self) -> int:
        with self._lock:
            return len(self.items)

    def sources(self) -> Sequence[tuple[str, int]]:
        with self._lock:
            return sorted(Counter(i.source for i in self.items).items())


# -- app state ------------------------------------------------------------------------------------------------
_REQUEST_FIELDS = {f.name for f in fields(ActionRequest)} - {"id", "status"}


@dataclass
class _RequestRow:
    request: ActionRequest
    owner: str | None = None
    heartbeat_at: datetime | None = None


class FakeActionStore:
    """ActionStore in memory, under one lock: one open request per resource (a second `create_request` gets the
    open one), `transition` only from the expected states (and for that executor, or a silent one), a click
    claimed once, heartbeats and abandoned requests. Money rounds as the database's columns do."""

    def __init__(self, clock: Callable[[], datetime] = _now) -> None:
        self.clock = clock
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._recs: dict[int, Recommendation] = {}
        self._requests: dict[int, _RequestRow] = {}
        self._open: dict[str, int] = {}  # resource key -> its open request
        self._clicks: dict[str, int | None] = {}
        self._audit: list[AuditEntry] = []

    # -- recommendations -----------------------------------------------------------------------------------
    def upsert_recommendation(self, rec: Recommendation) -> Recommendation:
        with self._lock:
            found = next((r for r in self._recs.values() if r.resource_key == rec.resource_key
                          and r.kind == rec.kind and r.status == "open"), None)
            values = {"team": rec.team, "name": rec.name, "resource_type": rec.resource_type, "reason": rec.reason,
                      "target_type": rec.target_type, "hourly_price": _numeric(rec.hourly_price, MICROS),
                      "monthly_savings": _numeric(rec.monthly_savings, CENTS)}
            if found is None:
                found = Recommendation(resource_key=rec.resource_key, kind=rec.kind, status="open",
                                       id=next(self._ids), **values)  # type: ignore[arg-type]
            else:
                found = replace(found, **values)  # type: ignore[arg-type]
            assert found.id is not None
            self._recs[found.id] = found
            # what was written comes back as given; reads return what the columns kept
            return replace(found, hourly_price=rec.hourly_price, monthly_savings=rec.monthly_savings)

    def close_recommendations(self, keep_ids: set[int], scope_keys: set[str] | None = None,
                              reasons: dict[str, str] | None = None) -> list[Recommendation]:
        reasons = reasons or {}
        with self._lock:
            closing = [r for r in self._recs.values() if r.status == "open" and r.id not in keep_ids
                       and (scope_keys is None or r.resource_key in scope_keys)]
            closed = []
            for r in closing:
                reason = reasons.get(r.resource_key, "no longer found idle or oversized by a scan")[:300]
                assert r.id is not None
                self._recs[r.id] = replace(r, status="closed", close_reason=reason)
                closed.append(self._recs[r.id])
            return closed

    def close_recommendations_for(self, resource_key: str, reason: str = "acted on") -> None:
        with self._lock:
            for rid, r in list(self._recs.items()):
                if r.resource_key == resource_key and r.status == "open":
                    self._recs[rid] = replace(r, status="closed", close_reason=reason[:300])

    def recommendation(self, rec_id: int) -> Recommendation | None:
        with self._lock:
            return self._recs.get(rec_id)

    def open_recommendations(self, team: str | None = None) -> list[Recommendation]:
        with self._lock:
            found = [r for r in self._recs.values() if r.status == "open" and (team is None or r.team == team)]
        # largest savings first, unknown savings last, then oldest
        return sorted(found, key=lambda r: (r.monthly_savings is None, -(r.monthly_savings or ZERO), r.id))

    def recommendation_for(self, resource_key: str) -> Recommendation | None:
        """The open one, else the latest."""
        with self._lock:
            found = [r for r in self._recs.values() if r.resource_key == resource_key]
        return max(found, key=lambda r: (r.status == "open", r.id), default=None)

    def recommendations_in_message(self, channel: str, ts: str) -> list[Recommendation]:
        with self._lock:
            return sorted((r for r in self._recs.values() if r.channel == channel and r.message_ts == ts),
                          key=lambda r: r.id or 0)

    def set_recommendation_message(self, rec_ids: Sequence[int], channel: str, ts: str) -> None:
        with self._lock:
            for rid in rec_ids:
                if rid in self._recs:
                    self._recs[rid] = replace(self._recs[rid], channel=channel, message_ts=ts)

    def set_recommendation_team(self, resource_key: str, team: str | None) -> None:
        with self._lock:
            for rid, r in list(self._recs.items()):
                if r.resource_key == resource_key and r.status == "open":
                    self._recs[rid] = replace(r, team=team)

    # -- action requests -----------------------------------------------------------------------------------
    @staticmethod
    def _out(row: _RequestRow) -> ActionRequest:
        return replace(row.request, params=dict(row.request.params))

    def create_request(self, *, resource_key: str, action: str, team: str | None, requested_by: str, status: str,
                       expires_at: datetime, params: dict[str, str] | None = None, approved_by: str | None = None,
                       channel: str | None = None, message_ts: str | None = None,
                       undo_of: int | None = None) -> tuple[ActionRequest, bool]:
        with self._lock:
            if status in OPEN and resource_key in self._open:
                return self._out(self._requests[self._open[resource_key]]), False
            req = ActionRequest(id=next(self._ids), resource_key=resource_key, action=action_kind(action), team=team,
                                requested_by=requested_by, status=status_of(status), created_at=self.clock(),
                                expires_at=expires_at, params=dict(params or {}), approved_by=approved_by,
                                channel=channel, message_ts=message_ts, undo_of=undo_of)
            self._requests[req.id] = _RequestRow(req)
            if status in OPEN:
                self._open[resource_key] = req.id
            return self._out(self._requests[req.id]), True

    def open_request(self, resource_key: str) -> ActionRequest | None:
        with self._lock:
            rid = self._open.get(resource_key)
            return self._out(self._requests[rid]) if rid is not None else None

    def request(self, request_id: int) -> ActionRequest | None:
        with self._lock:
            row = self._requests.get(request_id)
            return self._out(row) if row else None

    def latest_request(self, resource_key: str) -> ActionRequest | None:
        with self._lock:
            rows = [r for rid, r in sorted(self._requests.items()) if r.request.resource_key == resource_key]
            return self._out(rows[-1]) if rows else None

    def transition(self, request_id: int, from_statuses: Sequence[str], to: str, owner: str | None = None,
                   silent_since: datetime | None = None, **changes: Any) -> bool:
        for source in from_statuses:
            check_transition(source, to)
        unknown = set(changes) - _REQUEST_FIELDS
        if unknown:
            raise ValueError(f"action requests have no field {', '.join(sorted(unknown))}")
        with self._lock:
            row = self._requests.get(request_id)
            if row is None or row.request.status not in from_statuses:
                return False
            if to != "executing" and owner is not None and row.owner != owner:
                return False
            if silent_since is not None and row.heartbeat_at is not None and row.heartbeat_at >= silent_since:
                return False
            if to == "executing":
                row.owner, row.heartbeat_at = owner, self.clock()
            row.request = replace(row.request, status=status_of(to), **changes)
            if to in FINAL and self._open.get(row.request.resource_key) == request_id:
                del self._open[row.request.resource_key]
            return True

    def heartbeat(self, request_id: int, owner: str) -> bool:
        with self._lock:
            row = self._requests.get(request_id)
            if row is None or row.request.status != "executing" or row.owner != owner:
                return False
            row.heartbeat_at = self.clock()
            return True

    def abandoned(self, silent_since: datetime) -> list[ActionRequest]:
        with self._lock:
            return [self._out(r) for _, r in sorted(self._requests.items()) if r.request.status == "executing"
                    and (r.heartbeat_at is None or r.heartbeat_at < silent_since)]

    def claim_click(self, click_key: str) -> tuple[bool, int | None]:
        with self._lock:
            if click_key in self._clicks:
                return False, self._clicks[click_key]
            self._clicks[click_key] = None
            return True, None

    def set_click_request(self, click_key: str, request_id: int) -> None:
        with self._lock:
            if click_key in self._clicks:
                self._clicks[click_key] = request_id

    def release_click(self, click_key: str) -> None:
        with self._lock:
            if click_key in self._clicks and self._clicks[click_key] is None:
                del self._clicks[click_key]

    def requests_in(self, statuses: Sequence[str]) -> list[ActionRequest]:
        with self._lock:
            return [self._out(r) for _, r in sorted(self._requests.items()) if r.request.status in statuses]

    def set_request_message(self, request_id: int, channel: str, ts: str) -> None:
        with self._lock:
            row = self._requests.get(request_id)
            if row is not None:
                row.request = replace(row.request, channel=channel, message_ts=ts)

    # -- audit -----------------------------------------------------------------------------------------------
    def add_audit(self, entry: AuditEntry) -> None:
        with self._lock:
            self._audit.append(entry)

    def audit(self, limit: int = 20) -> list[AuditEntry]:
        with self._lock:
            return list(reversed(self._audit))[:limit]


class FakeSubscriptionStore:
    """SubscriptionStore in memory: one subscription per (channel, scope); `claim_run` true once per digest run
    (again only after a recorded failure, counting the attempts)."""

    def __init__(self, clock: Callable[[], datetime] = _now) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._subs: dict[int, Subscription] = {}
        self._runs: dict[tuple[int, str], tuple[str, int, str | None]] = {}  # -> (status, attempts, error)

    def upsert_subscription(self, sub: Subscription) -> Subscription:
        with self._lock:
            found = next((s for s in self._subs.values() if s.channel == sub.channel and s.scope == sub.scope), None)
            if found is None:
                found = replace(sub, id=next(self._ids), created_at=sub.created_at or self.clock())
            else:
                found = replace(found, cadence=sub.cadence, cron=sub.cron, timezone=sub.timezone, origin=sub.origin,
                                created_by=sub.created_by or found.created_by)
            assert found.id is not None
            self._subs[found.id] = found
            return found

    def remove_subscription(self, channel: str, scope: str) -> Subscription | None:
        with self._lock:
            found = next((s for s in self._subs.values() if s.channel == channel and s.scope == scope), None)
            if found is not None and found.id is not None:
                del self._subs[found.id]
            return found

    def subscriptions(self, channel: str | None = None) -> list[Subscription]:
        with self._lock:
            return [s for _, s in sorted(self._subs.items()) if channel is None or s.channel == channel]

    def subscription(self, subscription_id: int) -> Subscription | None:
        with self._lock:
            return self._subs.get(subscription_id)

    def remove_config_subscriptions_except(self, keep: set[tuple[str, str]]) -> int:
        with self._lock:
            gone = [i for i, s in self._subs.items() if s.origin == "config" and (s.channel, s.scope) not in keep]
            for i in gone:
                del self._subs[i]
            return len(gone)

    def claim_run(self, subscription_id: int, run_key: str) -> bool:
        with self._lock:
            found = self._runs.get((subscription_id, run_key))
            if found is None:
                self._runs[(subscription_id, run_key)] = ("running", 1, None)
                return True
            status, attempts, _ = found
            if status != "failed":
                return False
            self._runs[(subscription_id, run_key)] = ("running", attempts + 1, None)
            return True

    def finish_run(self, subscription_id: int, run_key: str, ok: bool, error: str | None = None) -> int:
        with self._lock:
            found = self._runs.get((subscription_id, run_key))
            if found is None:
                return 0
            attempts = found[1]
            self._runs[(subscription_id, run_key)] = ("posted", attempts, None) if ok else \
                ("failed", attempts, (error or "")[:2000])
            return attempts

    def run_status(self, subscription_id: int, run_key: str) -> tuple[str, int] | None:
        with self._lock:
            found = self._runs.get((subscription_id, run_key))
            return (found[0], found[1]) if found else None

    def run_error(self, subscription_id: int, run_key: str) -> str | None:
        """What the last failure recorded (for tests; the SQL store keeps it in a column)."""
        with self._lock:
            found = self._runs.get((subscription_id, run_key))
            return found[2] if found else None


class FakeLeaseStore:
    """LeaseStore in memory: a lease is taken when free, expired or already held by the same holder."""

    def __init__(self, clock: Callable[[], datetime] = _now) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._leases: dict[str, tuple[str, datetime]] = {}

    def acquire_lease(self, name: str, holder: str, ttl: timedelta) -> bool:
        with self._lock:
            now = self.clock()
            found = self._leases.get(name)
            if found is not None and found[0] != holder and found[1] >= now:
                return False
            self._leases[name] = (holder, now + ttl)
            return True

    def release_lease(self, name: str, holder: str) -> None:
        with self._lock:
            if name in self._leases and self._leases[name][0] == holder:
                del self._leases[name]

    def lease_holder(self, name: str) -> tuple[str, datetime] | None:
        with self._lock:
            return self._leases.get(name)


class FakeInsightStore:
    """InsightStore in memory: a budget alert (or enforcement step) claimed once per scope, month and threshold;
    an anomaly saved once per team, service and day."""

    def __init__(self, clock: Callable[[], datetime] = _now) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._budgets: dict[str, tuple[Decimal, str]] = {}
        self.alerts: list[tuple[str, str, str]] = []  # claimed (scope, month, threshold), in order
        self._anomalies: dict[int, tuple[Anomaly, str | None, str | None]] = {}  # -> (anomaly, channel, ts)
        self.acknowledged_by: dict[int, str] = {}
        self._checked: dict[str, date] = {}  # how far each periodic check has looked

    def set_budget(self, scope: str, monthly: Decimal, user: str) -> None:
        with self._lock:
            self._budgets[scope] = (_numeric(monthly, CENTS) or ZERO, user)

    def budgets(self) -> dict[str, Decimal]:
        with self._lock:
            return {scope: amount for scope, (amount, _) in self._budgets.items()}

    def claim_budget_alert(self, scope: str, month: str, threshold: str) -> bool:
        with self._lock:
            if (scope, month, threshold) in self.alerts:
                return False
            self.alerts.append((scope, month, threshold))
            return True

    def save_anomaly(self, anomaly: Anomaly, status: str = "open") -> Anomaly | None:
        with self._lock:
            if any((a.team, a.service, a.day) == (anomaly.team, anomaly.service, anomaly.day)
                   for a, _, _ in self._anomalies.values()):
                return None
            saved = replace(anomaly, id=next(self._ids), status=status,
                            actual=_numeric(anomaly.actual, MICROS) or ZERO,
                            baseline=_numeric(anomaly.baseline, MICROS) or ZERO)
            assert saved.id is not None
            self._anomalies[saved.id] = (saved, None, None)
            # what was written comes back as given; reads return what the columns kept
            return replace(saved, actual=anomaly.actual, baseline=anomaly.baseline)

    def set_anomaly_message(self, anomaly_id: int, channel: str, ts: str) -> None:
        with self._lock:
            if anomaly_id in self._anomalies:
                self._anomalies[anomaly_id] = (self._anomalies[anomaly_id][0], channel, ts)

    def acknowledge(self, anomaly_id: int, user: str) -> tuple[Anomaly, str | None, str | None] | None:
        with self._lock:
            found = self._anomalies.get(anomaly_id)
            if found is None:
                return None
            anomaly, channel, ts = found
            anomaly = replace(anomaly, status="acknowledged")
            self._anomalies[anomaly_id] = (anomaly, channel, ts)
            self.acknowledged_by[anomaly_id] = user
            return anomaly, channel, ts

    def anomaly(self, anomaly_id: int) -> Anomaly | None:
        with self._lock:
            found = self._anomalies.get(anomaly_id)
            return found[0] if found else None

    def anomalies(self, since: date, team: str | None = None) -> list[Anomaly]:
        with self._lock:
            found = [a for a, _, _ in self._anomalies.values() if a.day >= since and (team is None or a.team == team)]
        return sorted(found, key=lambda a: (-a.day.toordinal(), a.id or 0))

    def checked_through(self, name: str) -> date | None:
        with self._lock:
            return self._checked.get(name)

    def set_checked_through(self, name: str, day: date) -> None:
        with self._lock:
            if name not in self._checked or self._checked[name] < day:
                self._checked[name] = day


# -- the cloud --------------------------------------------------------------------------------------------------
ACCOUNT = "111122223333"
REGION = "us-east-1"
IDLE_USAGE = Utilization(hours=26, cpu_max=2.0, gpu_max=1.0, network_max=10_000.0, days=7.1, cpu_p95=2.0,
                         gpu_p95=1.0)
BUSY_USAGE = Utilization(hours=26, cpu_max=80.0, gpu_max=95.0, network_max=80_000_000.0, days=7.1, cpu_p95=75.0,
                         gpu_p95=90.0)


@dataclass
class _Box:
    ref: ResourceRef
    name: str
    type: str
    state: str
    tags: dict[str, str]
    hourly_price: Decimal | None
    capabilities: frozenset[Capability]
    billing_id: str | None
    changed_at: datetime | None = None  # when a person changed its state outside costbot (`console`)


@dataclass(frozen=True)
class ProviderCall:
    """One call a FakeProvider was asked to make (`detail`: the new type, the tag, the count)."""

    op: str
    key: str
    dry_run: bool = False
    detail: str | None = None


class FakeProvider:
    """ResourceProvider in memory: resources with states (`running`; `stopping`/`stopped` count as stopped),
    utilization set per resource (unknown: no data), and every stop/start/resize/tag recorded in `calls` and
    applied to the resource unless `dry_run`. It acts only where it is configured (`check_ref`), returns None
    from `describe` for a removed resource, counts its requests by operation, and raises what `fail` holds for
    an operation (e.g. a ProviderError) instead of acting."""

    PERMISSIONS: ClassVar[dict[str, tuple[str, ...]]] = {
        "list": ("fake:List",), "utilization": ("fake:GetMetrics",), "stop": ("fake:Stop",),
        "start": ("fake:Start",), "resize": ("fake:Stop", "fake:Modify", "fake:Start"), "tag": ("fake:Tag",),
    }
    RUNNING = ("running",)
    STOPPED = ("stopping", "stopped")

    def __init__(self, name: str = "fake", where: Mapping[str, Sequence[str]] | None = None,
                 kinds: Sequence[str] = ("vm",)) -> None:
        self.name = name
        self.where = {a: tuple(r) for a, r in (where or {ACCOUNT: (REGION,)}).items()}
        self.kinds = tuple(kinds)
        self.schedulable = frozenset({*self.kinds, "notebook"})  # kinds it stops and starts on a schedule
        self.usage: dict[str, Utilization] = {}
        self.resize_options: dict[str, ResizeOption] = {}
        self.calls: list[ProviderCall] = []
        self.fail: dict[str, CostbotError] = {}
        self._boxes: dict[str, _Box] = {}
        self._requests: Counter[str] = Counter()
        self._lock = threading.RLock()

    # -- arranging the world ---------------------------------------------------------------------------------
    def add(self, ident: str, *, name: str | None = None, type: str = "g5.xlarge", state: str = "running",
            tags: Mapping[str, str] | None = None, hourly_price: Decimal | None = Decimal("1.006"),
            kind: str = "vm", account: str = ACCOUNT, region: str = REGION,
            capabilities: Iterable[Capability] = ("stop", "start", "resize"), usage: Utilization | None = None,
            resize_to: ResizeOption | None = None, billing_id: str | None = None) -> str:
        """A resource; returns its key (the value of its buttons)."""
        ref = ResourceRef(self.name, account, region, kind, ident)
        with self._lock:
            self._boxes[ref.key] = _Box(ref, name or ident, type, state, dict(tags or {}), hourly_price,
                                        frozenset(capabilities), billing_id)
            if usage is not None:
                self.usage[ref.key] = usage
            if resize_to is not None:
                self.resize_options[ref.key] = resize_to
        return ref.key

    def remove(self, key: str) -> None:
        with self._lock:
            self._boxes.pop(key, None)

    def set_state(self, key: str, state: str) -> None:
        with self._lock:
            self._boxes[key].state = state

    def console(self, key: str, state: str, at: datetime) -> None:
        """Someone changes the state outside costbot (the cloud's console): the provider reports when."""
        with self._lock:
            self._boxes[key].state = state
            self._boxes[key].changed_at = at

    def set_tags(self, key: str, **tags: str) -> None:
        with self._lock:
            self._boxes[key].tags.update(tags)

    def state_of(self, key: str) -> tuple[str, str] | None:
        """(state, type), or None for a resource that is gone."""
        with self._lock:
            box = self._boxes.get(key)
            return (box.state, box.type) if box else None

    def acted(self) -> list[ProviderCall]:
        """Calls that change something (not dry runs)."""
        return [c for c in self.calls if not c.dry_run]

    # -- the port --------------------------------------------------------------------------------------------
    def requests(self) -> Counter[str]:
        with self._lock:
            return Counter(self._requests)

    def _count(self, op: str) -> None:
        with self._lock:
            self._requests[op] += 1
        if op in self.fail:
            raise self.fail[op]

    def _resource(self, box: _Box) -> Resource:
        return Resource(
            box.ref, name=box.name, type=box.type, state=box.state, tags=dict(box.tags),
            hourly_price=box.hourly_price, running=box.state in self.RUNNING, stopped=box.state in self.STOPPED,
            capabilities=box.capabilities, stop_means=POWER_OFF, idle_signal=UTILIZATION,
            stop_savings=box.hourly_price * HOURS_PER_MONTH if box.hourly_price is not None else None,
            state_changed_at=box.changed_at,
        )

    def kinds_with(self, capability: Capability) -> frozenset[str]:
        """The kinds of its resources declaring `capability`, and the kinds it says it can schedule."""
        with self._lock:
            found = frozenset(b.ref.kind for b in self._boxes.values() if capability in b.capabilities)
        return found | (self.schedulable if capability == "schedule" else frozenset())

    def list_resources(self, capability: Capability | None = None) -> list[Resource]:
        self._count("list")
        with self._lock:
            return [self._resource(b) for b in self._boxes.values()
                    if capability is None or capability in b.capabilities]

    def check_ref(self, ref: ResourceRef) -> None:
        if ref.provider != self.name or ref.kind not in self.kinds:
            raise ActionNotAllowed(f"'{ref.kind}' resources of '{ref.provider}' are not something costbot acts on")
        if ref.account not in self.where:
            raise ActionNotAllowed(f"account {ref.account} is not configured for costbot's actions")
        if ref.region not in self.where[ref.account]:
            raise ActionNotAllowed(f"region {ref.region} is not configured for costbot's actions in account "
                                   f"{ref.account}")

    def describe(self, ref: ResourceRef) -> Resource | None:
        self._count("describe")
        with self._lock:
            box = self._boxes.get(ref.key)
            return self._resource(box) if box else None

    def utilization(self, resources: Sequence[Resource], hours: int, recent_hours: int,
                    end: datetime | None = None,
                    detail: Callable[[Resource, Utilization], bool] | None = None) -> dict[str, Utilization]:
        """The figures set for each resource (no data: zero hours), in one request whatever their number."""
        self._count("utilization")
        with self._lock:
            return {r.ref.key: self.usage.get(r.ref.key, Utilization(hours=0)) for r in resources}

    def _box(self, ref: ResourceRef) -> _Box:
        box = self._boxes.get(ref.key)
        if box is None:
            raise ProviderError(f"{ref.id} is gone", detail=f"no resource {ref.key}")
        return box

    def stop(self, ref: ResourceRef, dry_run: bool = False) -> str:
        self._count("stop")
        with self._lock:
            box = self._box(ref)
            self.calls.append(ProviderCall("stop", ref.key, dry_run))
            if dry_run:
                return f"would stop {ref.id}"
            box.state = "stopped"
        return f"stopped {ref.id}"

    def start(self, ref: ResourceRef, dry_run: bool = False, count: int | None = None) -> str:
        self._count("start")
        with self._lock:
            box = self._box(ref)
            self.calls.append(ProviderCall("start", ref.key, dry_run, None if count is None else str(count)))
            if dry_run:
                return f"would start {ref.id}"
            box.state = "running"
        return f"started {ref.id}"

    def resize(self, ref: ResourceRef, new_type: str, dry_run: bool = False) -> str:
        self._count("resize")
        with self._lock:
            box = self._box(ref)
            self.calls.append(ProviderCall("resize", ref.key, dry_run, new_type))
            was_running = box.state in self.RUNNING
            if dry_run:
                return f"would change {ref.id} from {box.type} to {new_type}"
            old, box.type = box.type, new_type
        return f"changed {ref.id} from {old} to {new_type}" + (" and started it again" if was_running else "")

    def tag(self, ref: ResourceRef, key: str, value: str) -> None:
        self._count("tag")
        with self._lock:
            box = self._box(ref)
            self.calls.append(ProviderCall("tag", ref.key, False, f"{key}={value}"))
            box.tags[key] = value

    def delete(self, ref: ResourceRef, dry_run: bool = False, note: str = "") -> str:
        raise ProviderError(f"deleting a {ref.kind} is not supported")

    def restore(self, ref: ResourceRef, dry_run: bool = False) -> str:
        raise ProviderError(f"restoring a {ref.kind} is not supported")

    def resize_option(self, resource: Resource) -> ResizeOption | None:
        with self._lock:
            return self.resize_options.get(resource.ref.key) if resource.supports("resize") else None

    def resource_key(self, resource_id: str) -> str | None:
        with self._lock:
            return next((b.ref.key for b in self._boxes.values() if resource_id and b.billing_id == resource_id),
                        None)


# -- telling people ---------------------------------------------------------------------------------------------
class _Messages:
    """Message ids as Slack hands them out: a channel id and a growing ts."""

    def __init__(self, channel_ids: Mapping[str, str] | None = None) -> None:
        self.channel_ids = dict(channel_ids or {})  # "#team-ml" -> "C…"; unknown names are kept as they are
        self.fail: CostbotError | None = None  # raised instead of posting while set (Slack unreachable)
        self._ts = itertools.count(1)
        self._lock = threading.Lock()

    def _message(self, channel: str) -> tuple[str, str]:
        if self.fail is not None:
            raise self.fail
        with self._lock:
            return self.channel_ids.get(channel, channel), f"1700000000.{next(self._ts):06d}"


@dataclass(frozen=True)
class Posted:
    """A message a fake notifier posted (or updated): where, and what it was told."""

    channel: str
    ts: str
    team: str | None = None
    rows: tuple[RecommendationView, ...] = ()
    request: ActionRequest | None = None
    recommendation: Recommendation | None = None
    approvers: tuple[str, ...] = ()


class FakeActionNotifier(_Messages):
    """ActionNotifier recording what it was told: `posted` and `updated` recommendation messages, `approvals`
    asked for and `approval_updates`."""

    def __init__(self, channel_ids: Mapping[str, str] | None = None) -> None:
        super().__init__(channel_ids)
        self.posted: list[Posted] = []
        self.updated: list[Posted] = []
        self.approvals: list[Posted] = []
        self.approval_updates: list[Posted] = []

    def post_recommendations(self, channel: str, team: str | None,
                             rows: Sequence[RecommendationView]) -> tuple[str, str]:
        ch, ts = self._message(channel)
        self.posted.append(Posted(ch, ts, team, tuple(rows)))
        return ch, ts

    def update_recommendations(self, channel: str, ts: str, team: str | None,
                               rows: Sequence[RecommendationView]) -> None:
        if self.fail is not None:
            raise self.fail
        self.updated.append(Posted(channel, ts, team, tuple(rows)))

    def post_approval_request(self, channel: str, request: ActionRequest, recommendation: Recommendation | None,
                              approvers: Sequence[str]) -> tuple[str, str]:
        ch, ts = self._message(channel)
        self.approvals.append(Posted(ch, ts, request.team, request=request, recommendation=recommendation,
                                     approvers=tuple(approvers)))
        return ch, ts

    def update_approval_request(self, request: ActionRequest, recommendation: Recommendation | None) -> None:
        if self.fail is not None:
            raise self.fail
        self.approval_updates.append(Posted(request.channel or "", request.message_ts or "", request.team,
                                            request=request, recommendation=recommendation))


@dataclass(frozen=True)
class AlertPosted:
    """An alert a FakeInsightNotifier posted (or updated): a budget threshold or an anomaly."""

    channel: str
    status: BudgetStatus | None = None
    threshold: Threshold | None = None
    anomaly: Anomaly | None = None
    actionable: Mapping[str, str] = field(default_factory=dict)
    ts: str = ""
    acknowledged_by: str | None = None


class FakeInsightNotifier(_Messages):
    """InsightNotifier recording `budget_alerts`, `budget_changes` (channel, scope, before, after, user),
    `anomalies` posted and `anomaly_updates`."""

    def __init__(self, channel_ids: Mapping[str, str] | None = None) -> None:
        super().__init__(channel_ids)
        self.budget_alerts: list[AlertPosted] = []
        self.budget_changes: list[tuple[str, str, Decimal | None, Decimal, str]] = []
        self.anomalies: list[AlertPosted] = []
        self.anomaly_updates: list[AlertPosted] = []

    def post_budget_change(self, channel: str, scope: str, before: Decimal | None, after: Decimal,
                           user: str) -> None:
        ch, _ = self._message(channel)
        self.budget_changes.append((ch, scope, before, after, user))

    def post_budget_alert(self, channel: str, status: BudgetStatus, threshold: Threshold) -> None:
        ch, ts = self._message(channel)
        self.budget_alerts.append(AlertPosted(ch, status=status, threshold=threshold, ts=ts))

    def post_anomaly(self, channel: str, anomaly: Anomaly, actionable: dict[str, str]) -> tuple[str, str]:
        ch, ts = self._message(channel)
        self.anomalies.append(AlertPosted(ch, anomaly=anomaly, actionable=dict(actionable), ts=ts))
        return ch, ts

    def update_anomaly(self, channel: str, ts: str, anomaly: Anomaly, actionable: dict[str, str],
                       acknowledged_by: str | None) -> None:
        self.anomaly_updates.append(AlertPosted(channel, anomaly=anomaly, actionable=dict(actionable), ts=ts,
                                                acknowledged_by=acknowledged_by))


class FakeDigestPublisher:
    """DigestPublisher recording each (channel, digest) it published; `fail_next(n)` makes the next n
    publishes raise NotifyError, as Slack being down does."""

    def __init__(self) -> None:
        self.published: list[tuple[str, Digest]] = []
        self._failures = 0
        self._lock = threading.Lock()

    def fail_next(self, times: int = 1) -> None:
        with self._lock:
            self._failures += times

    def publish(self, channel: str, digest: Digest) -> None:
        with self._lock:
            if self._failures:
                self._failures -= 1
                raise NotifyError("Slack could not be reached (ConnectionError)")
            self.published.append((channel, digest))


# -- cost checks and experiments ---------------------------------------------------------------------------------
class FakePlanApprovalStore:
    """PlanApprovalStore in memory: one approval per (plan, team); `decide` once, from requested and before it
    expires; an expired undecided request or a lapsed approval is asked again, a rejection stands. Money is kept
    to the cent, as the database's columns keep it."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))
        self.rows: dict[int, PlanApproval] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def _find(self, plan_hash: str, team: str | None) -> PlanApproval | None:
        return next((a for a in self.rows.values() if a.plan_hash == plan_hash and a.team == team), None)

    def request(self, approval: PlanApproval) -> tuple[PlanApproval, bool]:
        kept = replace(approval, status="requested", monthly_delta=_cents(approval.monthly_delta),
                       one_off=_cents(approval.one_off), decided_by=None, decided_at=None, channel=None,
                       message_ts=None, headroom_after=_cents(approval.headroom_after)
                       if approval.headroom_after is not None else None,
                       created_at=approval.created_at or self.clock(), expires_at=approval.expires_at or self.clock())
        with self._lock:
            existing = self._find(approval.plan_hash, approval.team)
            if existing is None:
                row = replace(kept, id=next(self._ids))
                self.rows[row.id or 0] = row
                return row, True
            if existing.status != "rejected" and existing.expires_at is not None and \
                    existing.expires_at <= self.clock():
                row = replace(kept, id=existing.id)
                self.rows[row.id or 0] = row
                return row, True
            return existing, False

    def approval(self, approval_id: int) -> PlanApproval | None:
        with self._lock:
            return self.rows.get(approval_id)

    def for_plan(self, plan_hash: str) -> list[PlanApproval]:
        with self._lock:
            return sorted((a for a in self.rows.values() if a.plan_hash == plan_hash), key=lambda a: a.id or 0)

    def decide(self, approval_id: int, status: str, user: str) -> bool:
        with self._lock:
            row = self.rows.get(approval_id)
            now = self.clock()
            if row is None or row.status != "requested" or (row.expires_at is not None and row.expires_at <= now):
                return False
            self.rows[approval_id] = replace(row, status=status, decided_by=user, decided_at=now)
            return True

    def set_message(self, approval_id: int, channel: str, ts: str) -> None:
        with self._lock:
            if approval_id in self.rows:
                self.rows[approval_id] = replace(self.rows[approval_id], channel=channel, message_ts=ts)


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


class FakeEstimateNotifier(_Messages):
    """EstimateNotifier recording the `approvals` it posted, their `approval_updates` and `refusals`."""

    def __init__(self, channel_ids: Mapping[str, str] | None = None) -> None:
        super().__init__(channel_ids)
        self.approvals: list[tuple[str, PlanApproval, tuple[str, ...]]] = []
        self.approval_updates: list[PlanApproval] = []
        self.refusals: list[tuple[str, GuardCheck]] = []

    def post_approval(self, channel: str, approval: PlanApproval, approvers: Sequence[str]) -> tuple[str, str]:
        ch, ts = self._message(channel)
        self.approvals.append((ch, approval, tuple(approvers)))
        return ch, ts

    def update_approval(self, approval: PlanApproval, approvers: Sequence[str]) -> None:
        if self.fail is not None:
            raise self.fail
        self.approval_updates.append(approval)

    def post_guard_refusal(self, channel: str, check: GuardCheck) -> None:
        ch, _ = self._message(channel)
        self.refusals.append((ch, check))


class FakeExperimentTracker:
    """ExperimentTracker in memory: its `tracked` runs (filtered by experiment name and start), and what was
    `recorded` on each run (metrics and tags, the latest write winning, as MLflow shows them)."""

    def __init__(self, runs: Iterable[TrackedRun] = ()) -> None:
        self.tracked = list(runs)
        self.recorded: dict[str, tuple[dict[str, float], dict[str, str]]] = {}

    def runs(self, experiments: Sequence[str], since: datetime) -> list[TrackedRun]:
        return [r for r in self.tracked if (not experiments or r.experiment in experiments)
                and (r.started is None or r.started >= since)]

    def record(self, run_id: str, metrics: dict[str, float], tags: dict[str, str]) -> None:
        before = self.recorded.get(run_id, ({}, {}))
        self.recorded[run_id] = ({**before[0], **metrics}, {**before[1], **tags})


# -- the use cases on fakes -----------------------------------------------------------------------------------
TODAY = date(2026, 11, 28)


class FakeScheduleStore:
    """ScheduleStore in memory: an event claimed once per (schedule, event, day, team), one record per (schedule,
    night, resource), moved on only from the expected states; money kept to six decimals as the column does."""

    FIELDS = ("reason", "by", "request_id", "stopped_at", "started_at", "hourly_cost", "cost_source")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._events: dict[tuple[str, str, str, str], ScheduleEvent] = {}
        self._nights: dict[tuple[str, date, str], NightResource] = {}

    def claim_event(self, schedule: str, event: str, day: str, team: str | None, actor: str) -> bool:
        key = (schedule, event, day, team or "")
        with self._lock:
            if key in self._events:
                return False
            self._events[key] = ScheduleEvent(next(self._ids), schedule, event, day, team or None, actor,
                                              at=datetime.now(UTC))
            return True

    def event(self, schedule: str, event: str, day: str, team: str | None) -> ScheduleEvent | None:
        with self._lock:
            return self._events.get((schedule, event, day, team or ""))

    def event_by_id(self, event_id: int) -> ScheduleEvent | None:
        with self._lock:
            return next((e for e in self._events.values() if e.id == event_id), None)

    def set_event_message(self, schedule: str, event: str, day: str, team: str | None, channel: str,
                          ts: str) -> None:
        key = (schedule, event, day, team or "")
        with self._lock:
            if key in self._events:
                self._events[key] = replace(self._events[key], channel=channel, message_ts=ts)

    def add_nights(self, records: Sequence[NightResource]) -> int:
        added = 0
        with self._lock:
            for r in records:
                key = (r.schedule, r.night, r.resource_key)
                if key not in self._nights:
                    self._nights[key] = replace(r, hourly_cost=_numeric(r.hourly_cost, MICROS))
                    added += 1
        return added

    def nights(self, schedule: str | None = None, night: date | None = None,
               states: Sequence[str] | None = None) -> list[NightResource]:
        with self._lock:
            found = [r for r in self._nights.values() if (schedule is None or r.schedule == schedule)
                     and (night is None or r.night == night) and (states is None or r.state in states)]
        return sorted(found, key=lambda r: (r.night, r.name))

    def move_night(self, schedule: str, night: date, resource_key: str, from_states: Sequence[str], to: str,
                   **fields: Any) -> bool:
        unknown = set(fields) - set(self.FIELDS)
        if unknown:
            raise ValueError(f"not a field of a schedule night: {', '.join(sorted(unknown))}")
        if "hourly_cost" in fields:
            fields["hourly_cost"] = _numeric(fields["hourly_cost"], MICROS)
        key = (schedule, night, resource_key)
        with self._lock:
            current = self._nights.get(key)
            if current is None or current.state not in from_states:
                return False
            self._nights[key] = replace(current, state=to, **fields)
            return True

    def stopped_between(self, since: datetime, until: datetime) -> list[NightResource]:
        with self._lock:
            found = [r for r in self._nights.values() if r.stopped_at is not None and r.stopped_at < until
                     and (r.started_at is None or r.started_at > since)]
        return sorted(found, key=lambda r: (r.night, r.name))


class FakeScheduleNotifier:
    """ScheduleNotifier that records the heads-ups, their updates and the stop reports."""

    def __init__(self, channel_ids: Mapping[str, str] | None = None) -> None:
        self.channel_ids = dict(channel_ids or {})
        self.heads_ups: list[tuple[str, HeadsUp]] = []
        self.updates: list[tuple[str, str, HeadsUp]] = []
        self.reports: list[tuple[str, NightReport]] = []
        self.fail: CostbotError | None = None  # raised by post_heads_up (Slack unreachable)
        self._ts = itertools.count(1)

    def post_heads_up(self, channel: str, heads_up: HeadsUp) -> tuple[str, str]:
        if self.fail is not None:
            raise self.fail
        channel_id = self.channel_ids.get(channel, channel)
        self.heads_ups.append((channel_id, heads_up))
        return channel_id, f"{next(self._ts)}.000"

    def update_heads_up(self, channel: str, ts: str, heads_up: HeadsUp) -> None:
        self.updates.append((channel, ts, heads_up))

    def post_night_report(self, channel: str, report: NightReport) -> None:
        self.reports.append((self.channel_ids.get(channel, channel), report))


@dataclass
class FakeWorld:
    """Real services on fakes: the use cases wired as the composition root wires them (bot/app.py), with
    every port in memory, and the fakes at hand to arrange and to inspect."""

    config: CostbotConfig
    today: date
    clock: FakeClock
    queries: FakeCostQueries
    provider: FakeProvider
    action_store: FakeActionStore
    subscriptions: FakeSubscriptionStore
    insights: FakeInsightStore
    action_notifier: FakeActionNotifier
    insight_notifier: FakeInsightNotifier
    publisher: FakeDigestPublisher
    use_cases: UseCases
    approvals: FakePlanApprovalStore = field(default_factory=FakePlanApprovalStore)
    estimate_notifier: FakeEstimateNotifier = field(default_factory=FakeEstimateNotifier)
    tracker: FakeExperimentTracker = field(default_factory=FakeExperimentTracker)
    schedule_store: FakeScheduleStore = field(default_factory=FakeScheduleStore)
    schedule_notifier: FakeScheduleNotifier = field(default_factory=FakeScheduleNotifier)


def build_world(config: CostbotConfig | Mapping[str, Any], items: Iterable[LineItem] = (), *,
                today: date = TODAY, provider: FakeProvider | None = None, clock: FakeClock | None = None,
                channel_ids: Mapping[str, str] | None = None, lease: timedelta = timedelta(seconds=60)) -> FakeWorld:
    from bot.adapters.providers.aws.price_list import BundledPrices
    from bot.adapters.terraform import TerraformPlanReader
    from bot.services.actions import ActionService
    from bot.services.allocation import AllocationService
    from bot.services.anomalies import AnomalyService
    from bot.services.answers import AnswerService
    from bot.services.budgets import BudgetService
    from bot.services.compliance import ComplianceService
    from bot.services.digests import DigestBuilder, DigestService
    from bot.services.enforcement import EnforcementService
    from bot.services.estimate import EstimateService
    from bot.services.experiments import ExperimentService
    from bot.services.exports import ExportService
    from bot.services.home import HomeService
    from bot.services.ingest import IngestService
    from bot.services.scans import ScanService
    from bot.services.schedules import ScheduleService
    from bot.services.scopes import ScopeResolver
    from bot.services.sync import SyncService

    cfg = config if isinstance(config, CostbotConfig) else parse_config(dict(config), "test config")
    clock = clock or FakeClock()
    queries = FakeCostQueries(items)
    provider = provider or FakeProvider()
    action_store, subscriptions, insights = FakeActionStore(clock), FakeSubscriptionStore(clock), \
        FakeInsightStore(clock)
    action_notifier, insight_notifier = FakeActionNotifier(channel_ids), FakeInsightNotifier(channel_ids)
    publisher = FakeDigestPublisher()

    def on_day() -> date:
        return today

    scopes = ScopeResolver(queries, cfg)
    allocation = AllocationService(queries, scopes, cfg)
    answers = AnswerService(queries, scopes, allocation, cfg, on_day)
    compliance = ComplianceService(queries, scopes, cfg, on_day)
    budgets = BudgetService(queries, scopes, cfg, insights, insight_notifier, on_day)
    anomalies = AnomalyService(queries, scopes, cfg, insights, insight_notifier, on_day, provider.resource_key)
    actions = ActionService({provider.name: provider}, action_store, cfg, action_notifier, on_day, clock=clock,
                            budgets=budgets, anomalies=anomalies, lease=lease)
    scans = ScanService([provider], action_store, cfg, action_notifier, on_day, refresh=actions.refresh_messages)
    schedule_store, schedule_notifier = FakeScheduleStore(), FakeScheduleNotifier(channel_ids)
    schedules = ScheduleService([provider], schedule_store, actions, cfg, schedule_notifier, clock=clock)
    builder = DigestBuilder(queries, scopes, budgets, compliance, anomalies, actions, cfg, on_day,
                            schedule_savings=schedules.saved_all)
    approvals, estimate_notifier, tracker = FakePlanApprovalStore(clock), FakeEstimateNotifier(channel_ids), \
        FakeExperimentTracker()
    prices = BundledPrices()
    use_cases = UseCases(
        answers=answers, allocation=allocation, compliance=compliance, ingest=IngestService(None, None),
        sync=SyncService([], None, on_day), budgets=budgets, anomalies=anomalies,
        digests=DigestService(builder, subscriptions, publisher, cfg), scans=scans, actions=actions,
        enforcement=EnforcementService(cfg, budgets, actions, [provider]),
        home=HomeService(answers, budgets, actions, cfg), exports=ExportService(answers, allocation, cfg),
        estimates=EstimateService(TerraformPlanReader(), prices, budgets, cfg, approvals, estimate_notifier, on_day,
                                  now=clock),
        experiments=ExperimentService(queries, cfg, lambda: tracker, prices.gpus, on_day),
        schedules=schedules,
    )
    return FakeWorld(cfg, today, clock, queries, provider, action_store, subscriptions, insights, action_notifier,
                     insight_notifier, publisher, use_cases, approvals, estimate_notifier, tracker, schedule_store,
                     schedule_notifier)


if TYPE_CHECKING:  # each fake implements its port, checked by mypy
    from bot.ports import (
        ActionNotifier,
        ActionStore,
        CostQueries,
        DigestPublisher,
        EstimateNotifier,
        ExperimentTracker,
        InsightNotifier,
        InsightStore,
        LeaseStore,
        PlanApprovalStore,
        ResourceProvider,
        ScheduleNotifier,
        ScheduleStore,
        SubscriptionStore,
    )

    def _cost_queries(fake: FakeCostQueries) -> CostQueries:
        return fake

    def _action_store(fake: FakeActionStore) -> ActionStore:
        return fake

    def _subscription_store(fake: FakeSubscriptionStore) -> SubscriptionStore:
        return fake

    def _lease_store(fake: FakeLeaseStore) -> LeaseStore:
        return fake

    def _insight_store(fake: FakeInsightStore) -> InsightStore:
        return fake

    def _provider(fake: FakeProvider) -> ResourceProvider:
        return fake

    def _action_notifier(fake: FakeActionNotifier) -> ActionNotifier:
        return fake

    def _insight_notifier(fake: FakeInsightNotifier) -> InsightNotifier:
        return fake

    def _publisher(fake: FakeDigestPublisher) -> DigestPublisher:
        return fake

    def _plan_approvals(fake: FakePlanApprovalStore) -> PlanApprovalStore:
        return fake

    def _estimate_notifier(fake: FakeEstimateNotifier) -> EstimateNotifier:
        return fake

    def _experiment_tracker(fake: FakeExperimentTracker) -> ExperimentTracker:
        return fake

    def _schedule_store(fake: FakeScheduleStore) -> ScheduleStore:
        return fake

    def _schedule_notifier(fake: FakeScheduleNotifier) -> ScheduleNotifier:
        return fake
