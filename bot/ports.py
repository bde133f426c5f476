"""Ports: what the services need from the outside world. Adapters implement these; tests use the in-memory
fakes in tests/fakes.py. Each docstring says what implementers must guarantee."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, Protocol

from bot.domain.actions import ActionRequest, AuditEntry
from bot.domain.anomalies import Anomaly
from bot.domain.budgets import BudgetStatus, Threshold
from bot.domain.commitments import CommitmentReport
from bot.domain.digest import Digest
from bot.domain.estimate import GuardCheck, Plan, PlanApproval, PriceKind, PriceQuote
from bot.domain.experiments import TrackedRun
from bot.domain.figures import DailyRow, Totals
from bot.domain.ingest import IngestSummary, SourceBatch, SourceHolding
from bot.domain.recommendations import Recommendation, RecommendationView
from bot.domain.resources import Capability, ResizeOption, Resource, ResourceRef, Utilization
from bot.domain.schedules import HeadsUp, NightReport, NightResource, ScheduleEvent
from bot.domain.spec import CostSpec, Grouping
from bot.domain.subscriptions import Subscription


class CostQueries(Protocol):
    """FOCUS line items, queried by resolved specs: the read side every engine implements (DuckDB, Athena).

    Implementers must: sum exactly (decimal, no float drift); treat `end` as exclusive and dates as UTC; be
    safe to call from several threads at once.
    """

    def totals(self, spec: CostSpec, previous: tuple[date, date]) -> Totals: ...

    def groups(self, spec: CostSpec, grouping: Grouping, top: int | None = None) -> list[tuple[str, Decimal]]:
        """Every group, largest first. With `top`, a store may return only the `top` largest and then the rest
        summed as one `(other)` row (what `top_groups` makes of the whole list), so a `by resource top 10` over
        200k resources moves 11 rows, not 200k."""
        ...

    def daily(self, spec: CostSpec, grouping: Grouping) -> list[DailyRow]: ...

    def quantities(self, spec: CostSpec, grouping: Grouping) -> list[tuple[str, Decimal]]:
        """Hours consumed (ConsumedQuantity of lines measured in hours) per group: instance-hours."""
        ...

    def freshness(self) -> date | None:
        """The last day the store holds billing data for (the data's last complete day)."""
        ...

    def first_day(self) -> date | None:
        """The first day the store holds billing data for: comparison periods before it are not like with like."""
        ...

    def distinct_values(self, column: str) -> list[str]: ...

    def tag_keys(self) -> Sequence[str]:
        """Every tag key the billing data carries, as spelled there."""
        ...

    def tag_values(self, key: str) -> list[str]:
        """The values a tag key (matched case-insensitively) has anywhere in the billing data."""
        ...

    def resource_names(self) -> dict[str, str]:
        """Every ResourceId in the billing data -> its ResourceName ("" when the data names none)."""
        ...

    def row_count(self) -> int: ...

    def sources(self) -> Sequence[tuple[str, int]]: ...


class CostIngest(Protocol):
    """The write side of a store that holds the billing data itself (DuckDB; a query-only engine such as
    Athena has none).

    Implementers must make an ingest one transaction that replaces the (source, billing account, month) it
    carries, and reject a bad file whole with file, row and column named (IngestError); refuse billing
    account-months another source label already holds (SourceOverlap, naming it), unless that source is to be
    replaced too (`replace_sources`) or the two are declared complementary (`complements`).
    """

    def ingest_files(
        self, paths: Iterable[Path], source: str | None = None,
        progress: Callable[[Path, int, int], None] | None = None, replace: Iterable[tuple[str, date]] = (),
        replace_sources: Iterable[str] = (), complements: Iterable[tuple[str, str]] = (),
    ) -> IngestSummary: ...

    def source_etags(self, source: str) -> dict[str, str]: ...

    def record_source_files(self, source: str, etags: dict[str, str]) -> None: ...

    def record_sync(self, source: str) -> None: ...

    def clear_periods(self, source: str, periods: Iterable[tuple[str, date]]) -> int: ...

    def fold_kept_files(self) -> int: ...

    def holdings(self) -> list[SourceHolding]: ...

    def commitments(self) -> CommitmentReport:
        """Contract commitments read from FOCUS 1.3 Contract Commitment datasets, each with what the bill's
        `ContractApplied` applied to it so far (through the last day the billing data holds); by end date."""
        ...


class UsageMetrics(Protocol):
    """Usage figures per team and day (GPU-hours, …) for `method: usage` allocation rules."""

    def ingest_usage(self, path: Path) -> int: ...

    def usage_by_team(self, metric: str, start: date, end: date) -> dict[str, Decimal]: ...


class CostSource(Protocol):
    """A place billing data comes from (Cost Explorer, S3 exports, …).

    Implementers must: write what they read into files the file ingest understands (FOCUS or CUR) under
    `workdir`; report in `seen` the identity (ETag) of the remote files they used; count their API requests
    in `requests`; raise a CostbotError, changing nothing, when the source cannot be read; list missing
    permissions from `check()`.
    """

    name: str
    kind: str
    PERMISSIONS: ClassVar[tuple[str, ...]]  # what `check()` verifies (IAM actions; empty for a local folder)
    requests: Counter[str]
    seen: dict[str, str]

    def pull(self, since: date, until: date, workdir: Path, known: dict[str, str]) -> SourceBatch: ...

    def check(self) -> list[str]: ...


class SubscriptionStore(Protocol):
    """Digest subscriptions and the record of each digest run, shared by every replica.

    Implementers must make `claim_run` atomic across processes (a unique key), so that two schedulers or bot
    replicas never both post one digest.
    """

    def upsert_subscription(self, sub: Subscription) -> Subscription: ...

    def remove_subscription(self, channel: str, scope: str) -> Subscription | None: ...

    def subscriptions(self, channel: str | None = None) -> list[Subscription]: ...

    def subscription(self, subscription_id: int) -> Subscription | None: ...

    def remove_config_subscriptions_except(self, keep: set[tuple[str, str]]) -> int: ...

    def claim_run(self, subscription_id: int, run_key: str) -> bool: ...

    def finish_run(self, subscription_id: int, run_key: str, ok: bool, error: str | None = None) -> int: ...

    def run_status(self, subscription_id: int, run_key: str) -> tuple[str, int] | None: ...


class LeaseStore(Protocol):
    """Named leases (who runs the scheduler). `acquire_lease` must be atomic across processes."""

    def acquire_lease(self, name: str, holder: str, ttl: timedelta) -> bool: ...

    def release_lease(self, name: str, holder: str) -> None: ...

    def lease_holder(self, name: str) -> tuple[str, datetime] | None: ...


class DigestPublisher(Protocol):
    """Delivers a digest to a channel (Slack: the chart uploaded with the digest as its message)."""

    def publish(self, channel: str, digest: Digest) -> None: ...


class ResourceProvider(Protocol):
    """Cloud resources for scans and actions, under the provider's configured `name` (the first part of its
    resources' keys).

    Implementers must: fill in on each Resource what it can do and how it is judged (`capabilities`,
    `stop_means`, `idle_signal`, `stop_savings`, `running`, `stopped`), so that rules and services never ask
    which kind it is; declare the permissions each operation needs (`PERMISSIONS`); honour `dry_run` in every
    action (check, change nothing, say what would happen); fetch utilization for many resources in batches;
    return `None` from `describe` for a resource that is gone; count their API requests (`requests`); raise a
    CostbotError subclass with a user-facing message when a call fails, leaving the resource as it was when
    possible.
    """

    name: str
    PERMISSIONS: ClassVar[dict[str, tuple[str, ...]]]

    def requests(self) -> Counter[str]:
        """API requests made so far, by operation."""
        ...

    def list_resources(self, capability: Capability | None = None) -> list[Resource]:
        """Every resource; with `capability`, only those of the kinds that declare it (a schedule lists what it
        can stop and start, without asking for volumes, buckets or training jobs)."""
        ...

    def kinds_with(self, capability: Capability) -> frozenset[str]:
        """The names of this provider's kinds that declare `capability` (config that names kinds is checked
        against them)."""
        ...

    def check_ref(self, ref: ResourceRef) -> None:
        """Raise ActionNotAllowed unless the reference is one this provider may act on: a kind it knows, in an
        account and a region of the config (a button's value is never trusted for where to act)."""
        ...

    def describe(self, ref: ResourceRef) -> Resource | None: ...

    def utilization(self, resources: Sequence[Resource], hours: int, recent_hours: int,
                    end: datetime | None = None,
                    detail: Callable[[Resource, Utilization], bool] | None = None) -> dict[str, Utilization]: ...

    def stop(self, ref: ResourceRef, dry_run: bool = False) -> str: ...

    def start(self, ref: ResourceRef, dry_run: bool = False, count: int | None = None) -> str: ...

    def resize(self, ref: ResourceRef, new_type: str, dry_run: bool = False) -> str: ...

    def tag(self, ref: ResourceRef, key: str, value: str) -> None: ...

    def delete(self, ref: ResourceRef, dry_run: bool = False, note: str = "") -> str:
        """Remove a resource that keeps its data elsewhere first (a volume: snapshot, wait until it is complete,
        tag it with `note` — who and why — then delete); raise, leaving the resource, when the copy fails."""
        ...

    def restore(self, ref: ResourceRef, dry_run: bool = False) -> str:
        """Undo a `delete`: bring the resource back from what `delete` kept (a new volume from the snapshot,
        with the old one's tags); the restored resource may have a new id."""
        ...

    def resize_option(self, resource: Resource) -> ResizeOption | None:
        """A smaller size to offer for the resource, with the provider's estimate of the saving; None when it
        cannot be resized or no smaller size is known."""
        ...

    def resource_key(self, resource_id: str) -> str | None:
        """A billing ResourceId -> the key of the resource it names, when this provider manages it (a kind it
        has, in a configured account and region); else None."""
        ...


class ActionStore(Protocol):
    """Recommendations, action requests and the audit log.

    Implementers must: let a resource have at most one open request (requested, approved, executing) by a
    uniqueness guarantee of the storage, not a check-then-insert — `create_request` returns the open one
    instead of a second; make `transition` a conditional write (only from the expected states, and with
    `owner` / `silent_since` only for that executor / a silent one), so that concurrent clicks and replicas
    make exactly one provider call; make `claim_click` true for exactly one caller per click key.
    """

    def upsert_recommendation(self, rec: Recommendation) -> Recommendation: ...

    def close_recommendations(self, keep_ids: set[int], scope_keys: set[str] | None = None,
                              reasons: dict[str, str] | None = None) -> list[Recommendation]: ...

    def close_recommendations_for(self, resource_key: str, reason: str = "acted on") -> None: ...

    def recommendation(self, rec_id: int) -> Recommendation | None: ...

    def open_recommendations(self, team: str | None = None) -> list[Recommendation]: ...

    def recommendation_for(self, resource_key: str) -> Recommendation | None: ...

    def recommendations_in_message(self, channel: str, ts: str) -> list[Recommendation]: ...

    def set_recommendation_message(self, rec_ids: Sequence[int], channel: str, ts: str) -> None: ...

    def set_recommendation_team(self, resource_key: str, team: str | None) -> None: ...

    def create_request(self, *, resource_key: str, action: str, team: str | None, requested_by: str, status: str,
                       expires_at: datetime, params: dict[str, str] | None = None, approved_by: str | None = None,
                       channel: str | None = None, message_ts: str | None = None,
                       undo_of: int | None = None) -> tuple[ActionRequest, bool]: ...

    def open_request(self, resource_key: str) -> ActionRequest | None: ...

    def request(self, request_id: int) -> ActionRequest | None: ...

    def latest_request(self, resource_key: str) -> ActionRequest | None: ...

    def transition(self, request_id: int, from_statuses: Sequence[str], to: str, owner: str | None = None,
                   silent_since: datetime | None = None, **fields: Any) -> bool: ...

    def heartbeat(self, request_id: int, owner: str) -> bool: ...

    def abandoned(self, silent_since: datetime) -> list[ActionRequest]: ...

    def claim_click(self, click_key: str) -> tuple[bool, int | None]: ...

    def release_click(self, click_key: str) -> None: ...

    def set_click_request(self, click_key: str, request_id: int) -> None: ...

    def requests_in(self, statuses: Sequence[str]) -> list[ActionRequest]: ...

    def set_request_message(self, request_id: int, channel: str, ts: str) -> None: ...

    def add_audit(self, entry: AuditEntry) -> None: ...

    def audit(self, limit: int = 20) -> list[AuditEntry]: ...


class ActionNotifier(Protocol):
    """Tells people about recommendations and actions (Slack: messages updated in place)."""

    def post_recommendations(self, channel: str, team: str | None,
                             rows: Sequence[RecommendationView]) -> tuple[str, str]:
        """Returns (channel id, message ts)."""
        ...

    def update_recommendations(self, channel: str, ts: str, team: str | None,
                               rows: Sequence[RecommendationView]) -> None: ...

    def post_approval_request(self, channel: str, request: ActionRequest, recommendation: Recommendation | None,
                              approvers: Sequence[str]) -> tuple[str, str]: ...

    def update_approval_request(self, request: ActionRequest, recommendation: Recommendation | None) -> None: ...


class ScheduleStore(Protocol):
    """Off-hours schedules: the events that happened and what became of each resource on each night.

    Implementers must make `claim_event` an insert under a unique (schedule, event, day, team) key, true for
    exactly one caller, so each heads-up, stop, start and skip happens once across schedulers and clicks; keep one
    record per (schedule, night, resource) (`add_nights` leaves an existing one as it is); make `move_night` a
    conditional write (only from `from_states`), true for the one caller that moved it.
    """

    def claim_event(self, schedule: str, event: str, day: str, team: str | None, actor: str) -> bool: ...

    def event(self, schedule: str, event: str, day: str, team: str | None) -> ScheduleEvent | None:
        """A claimed event (who claimed it, the message it posted), or None."""
        ...

    def event_by_id(self, event_id: int) -> ScheduleEvent | None: ...

    def set_event_message(self, schedule: str, event: str, day: str, team: str | None, channel: str,
                          ts: str) -> None: ...

    def add_nights(self, records: Sequence[NightResource]) -> int: ...

    def nights(self, schedule: str | None = None, night: date | None = None,
               states: Sequence[str] | None = None) -> list[NightResource]: ...

    def move_night(self, schedule: str, night: date, resource_key: str, from_states: Sequence[str], to: str,
                   **fields: Any) -> bool:
        """`fields`: reason, by, request_id, stopped_at, started_at, hourly_cost, cost_source."""
        ...

    def stopped_between(self, since: datetime, until: datetime) -> list[NightResource]:
        """Records of resources a schedule stopped whose time off overlaps [since, until)."""
        ...


class ScheduleNotifier(Protocol):
    """Tells a team what its schedule will stop and what it did (Slack: the heads-up with its buttons, updated in
    place after each click; a report at the stop)."""

    def post_heads_up(self, channel: str, heads_up: HeadsUp) -> tuple[str, str]:
        """Returns (channel id, message ts)."""
        ...

    def update_heads_up(self, channel: str, ts: str, heads_up: HeadsUp) -> None: ...

    def post_night_report(self, channel: str, report: NightReport) -> None: ...


class BudgetGrounds(Protocol):
    """What a budget action rests on, checked again when it runs."""

    def check_budget(self, scope: str, measure: str, percent: int) -> None:
        """Raise ActionNotAllowed unless `scope` is still at or over `percent` of its budget (`measure`:
        forecast or actual)."""
        ...


class AnomalyGrounds(Protocol):
    """What a Stop from an anomaly alert rests on, checked when it is requested and again when it runs."""

    def check_anomaly(self, anomaly_id: int, resource_key: str) -> str:
        """Raise ActionNotAllowed unless the anomaly is still open and names this resource among its causes;
        returns its team."""
        ...


class InsightStore(Protocol):
    """Budgets set from Slack, alerts and enforcement steps already taken, and anomalies found.

    Implementers must make `claim_budget_alert` and `save_anomaly` insert under a unique key, so that an
    alert or a step happens once per scope, month and threshold (or per anomaly) across restarts and replicas.
    """

    def set_budget(self, scope: str, monthly: Decimal, user: str) -> None: ...

    def budgets(self) -> dict[str, Decimal]: ...

    def claim_budget_alert(self, scope: str, month: str, threshold: str) -> bool: ...

    def save_anomaly(self, anomaly: Anomaly, status: str = "open") -> Anomaly | None: ...

    def set_anomaly_message(self, anomaly_id: int, channel: str, ts: str) -> None: ...

    def acknowledge(self, anomaly_id: int, user: str) -> tuple[Anomaly, str | None, str | None] | None: ...

    def anomaly(self, anomaly_id: int) -> Anomaly | None: ...

    def anomalies(self, since: date, team: str | None = None) -> list[Anomaly]: ...

    def checked_through(self, name: str) -> date | None:
        """The last day the periodic check `name` has looked at (None: never)."""
        ...

    def set_checked_through(self, name: str, day: date) -> None: ...


class InsightNotifier(Protocol):
    """Tells a team about its budget and its anomalies (Slack: alerts with buttons, updated in place)."""

    def post_budget_alert(self, channel: str, status: BudgetStatus, threshold: Threshold) -> None: ...

    def post_budget_change(self, channel: str, scope: str, before: Decimal | None, after: Decimal,
                           user: str) -> None:
        """Tell a team its budget was changed, by whom, from what to what."""
        ...

    def post_anomaly(self, channel: str, anomaly: Anomaly, actionable: dict[str, str]) -> tuple[str, str]: ...

    def update_anomaly(self, channel: str, ts: str, anomaly: Anomaly, actionable: dict[str, str],
                       acknowledged_by: str | None) -> None: ...


class PriceSource(Protocol):
    """On-demand unit prices: USD per instance-hour (EC2, SageMaker hosting, training, notebooks) or per
    GB-month (EBS), in a region.

    Implementers must: return None for an item they do not know (never 0); say in the quote where the price
    came from and as of when; answer from a cache when they can; never raise for an unreachable price service
    (answer from what they have, or None).
    """

    def price(self, kind: PriceKind, item: str, region: str) -> PriceQuote | None: ...

    def gpus(self, instance_type: str) -> int | None:
        """GPUs (or accelerators) in one instance of the type; None when not known, 0 for none."""
        ...

    def status(self) -> str | None:
        """Why the preferred price service was not used (e.g. no credentials), or None."""
        ...


class PlanReader(Protocol):
    """A change to price: a Terraform plan (`terraform show -json`) and the usage file beside it.

    Implementers must raise PlanError naming the file and what is wrong for anything they cannot read, and
    compute `Plan.digest` from what is priced only (two plans of the same change have the same digest).
    """

    def read(self, plan: Path, usage: Path | None = None) -> Plan: ...


class PlanApprovalStore(Protocol):
    """Approval requests for plans, one per plan and team.

    Implementers must make `request` an insert under a unique (plan, team) key that returns the existing row
    instead of a second, and `decide` a conditional write from `requested` (one decision wins).
    """

    def request(self, approval: PlanApproval) -> tuple[PlanApproval, bool]: ...

    def approval(self, approval_id: int) -> PlanApproval | None: ...

    def for_plan(self, plan_hash: str) -> list[PlanApproval]: ...

    def decide(self, approval_id: int, status: str, user: str) -> bool: ...

    def set_message(self, approval_id: int, channel: str, ts: str) -> None: ...


class EstimateNotifier(Protocol):
    """Tells a team about a change waiting for its approval, and about a guarded run that was refused."""

    def post_approval(self, channel: str, approval: PlanApproval, approvers: Sequence[str]) -> tuple[str, str]: ...

    def update_approval(self, approval: PlanApproval, approvers: Sequence[str]) -> None: ...

    def post_guard_refusal(self, channel: str, check: GuardCheck) -> None: ...


class ExperimentTracker(Protocol):
    """An experiment tracker (MLflow): its runs, and a place to write each run's cost back.

    Implementers must page through every run, and write a run's figures in one call.
    """

    def runs(self, experiments: Sequence[str], since: datetime) -> list[TrackedRun]: ...

    def record(self, run_id: str, metrics: dict[str, float], tags: dict[str, str]) -> None: ...
