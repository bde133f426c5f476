"""costbot.yml (pydantic models, unknown keys are errors) and environment settings, loaded once."""

from __future__ import annotations

import os
import re
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.domain.errors import ConfigError
from bot.domain.query import Grammar
from bot.domain.subscriptions import more_than_hourly

_TEAM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BudgetConfig(_Strict):
    monthly: Decimal = Field(gt=0, description="monthly budget in the config currency")


def unreadable_cron(cron: str) -> str | None:
    """Why the scheduler could not read a 5-field cron expression, or None. Checked when a schedule is written
    down (config, `/cost digest subscribe … cron`), so a bad one never reaches the scheduler's job sync."""
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(cron, timezone="UTC")
    except ValueError as exc:
        return f"'{cron}' is not a valid cron expression: {exc}"
    return None


class DigestConfig(_Strict):
    schedule: str = Field(description="cron expression in the configured timezone")

    @field_validator("schedule")
    @classmethod
    def _five_fields(cls, v: str) -> str:
        if len(v.split()) != 5:
            raise ValueError("expected a 5-field cron expression such as '0 9 * * MON-FRI'")
        problem = unreadable_cron(v) or more_than_hourly(v)
        if problem is not None:
            raise ValueError(problem)
        return v


_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_SCHEDULE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$")  # `schedule:NAME` is the audit's actor


def _known_zone(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone '{v}' (expected an IANA name such as Europe/Berlin)") from None
    return v


class ScheduleConfig(_Strict):
    """Off-hours: resources following the schedule run from `on` to `off` on working days, in `timezone`; they
    are stopped at `off` (a heads-up `heads_up_minutes` before) and started again at the next working day's `on`."""

    on: str = Field(description="HH:MM, when resources start on a working day")
    off: str = Field(description="HH:MM, when they stop")
    timezone: str | None = None  # default: the config's timezone
    weekends: Literal["on", "off"] = "off"  # off: Saturday and Sunday are not working days
    holidays: list[date] = Field(default_factory=list)  # days that are not working days
    heads_up_minutes: int = Field(default=30, ge=5, le=240)

    @model_validator(mode="before")
    @classmethod
    def _yaml_words(cls, data: Any) -> Any:
        """YAML 1.1 reads the keys `on` / `off` and the value `off` as booleans: take them back."""
        if not isinstance(data, dict):
            return data
        out = {({True: "on", False: "off"}.get(k, k) if isinstance(k, bool) else k): v for k, v in data.items()}
        if isinstance(out.get("weekends"), bool):
            out["weekends"] = "on" if out["weekends"] else "off"
        return out

    @field_validator("on", "off", mode="before")
    @classmethod
    def _clock(cls, v: Any) -> Any:
        if isinstance(v, int):
            raise ValueError('write times in quotes, e.g. "20:00" (unquoted, YAML reads 20:00 as a number)')
        if not isinstance(v, str) or not _CLOCK.match(v):
            raise ValueError(f"'{v}' is not a time of day as HH:MM (00:00 to 23:59)")
        return v

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        return _known_zone(v) if v is not None else None

    @model_validator(mode="after")
    def _on_before_off(self) -> ScheduleConfig:
        if self.on >= self.off:
            raise ValueError(f"on ({self.on}) must come before off ({self.off}) in the day")
        return self


class TeamScheduleConfig(_Strict):
    """Which of a team's resources follow a schedule: those with all of `tags` (besides the team's own), of the
    `kinds` listed (default: every kind that can be stopped and started on a schedule)."""

    name: str
    tags: dict[str, str] = Field(default_factory=dict)
    kinds: list[str] | None = Field(default=None, min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _just_a_name(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data


class TeamConfig(_Strict):
    tags: dict[str, str] = Field(min_length=1)
    # shared clusters: Kubernetes namespaces (shell patterns, e.g. ml-*) whose allocated cost is this team's too
    namespaces: list[Annotated[str, Field(min_length=1, max_length=253)]] = Field(default_factory=list)
    channel: str | None = None
    members: list[str] = Field(default_factory=list)  # Slack user ids: whose `/cost` and App Home show this team
    approvers: list[str] = Field(default_factory=list)
    budget: BudgetConfig | None = None
    digest: DigestConfig | None = None
    rules: RulesConfig | None = None  # overrides the global rules for this team's resources
    schedule: TeamScheduleConfig | None = None  # off-hours: which of its resources follow which schedule


class _Source(_Strict):
    name: str | None = None  # what `costbot sync --source` and the logs call it (default: its kind)
    # other source labels that may hold the same billing account and month without double counting: they carry
    # different accounts or charge categories (e.g. Cost Explorer for one team's account, exports for the rest)
    complements: list[str] = Field(default_factory=list)

    @property
    def label(self) -> str:
        return self.name or str(getattr(self, "kind", "source"))


class FocusFilesSourceConfig(_Source):
    """A folder of FOCUS or CUR files (re-read when they change)."""

    kind: Literal["focus_files"]
    path: str


class CurSourceConfig(_Source):
    """AWS Cost and Usage Reports: a local folder (`path`) or an S3 export (`bucket`)."""

    kind: Literal["cur"]
    path: str | None = None
    bucket: str | None = None
    prefix: str = ""
    region: str | None = None

    @model_validator(mode="after")
    def _one_place(self) -> CurSourceConfig:
        if bool(self.path) == bool(self.bucket):
            raise ValueError("a cur source needs exactly one of `path` (a folder) or `bucket` (an S3 export)")
        return self


class CostExplorerSourceConfig(_Source):
    """Daily cost by service and team tag from the Cost Explorer API."""

    kind: Literal["cost_explorer"]


class S3ExportSourceConfig(_Source):
    """AWS Data Exports (FOCUS or CUR 2.0) or a legacy CUR in S3, read by their manifests."""

    kind: Literal["s3_export"]
    bucket: str
    prefix: str = ""
    region: str | None = None


class AthenaSourceConfig(_Source):
    """Questions pushed down to Athena over a FOCUS export or a CUR 2.0 table; nothing is pulled."""

    kind: Literal["athena"]
    database: str
    table: str
    workgroup: str | None = None
    output_location: str | None = None
    region: str | None = None
    table_format: Literal["focus", "cur2"] = "focus"  # a FOCUS export table or a CUR 2.0 table


SourceConfig = Annotated[
    FocusFilesSourceConfig | CurSourceConfig | CostExplorerSourceConfig | S3ExportSourceConfig | AthenaSourceConfig,
    Field(discriminator="kind"),
]


_PROVIDER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/[A-Za-z0-9+=,.@_/-]+$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


def _regions(v: list[str] | None) -> list[str] | None:
    for region in v or []:
        if not _REGION.match(region):
            raise ValueError(f"'{region}' is not an AWS region name such as us-east-1")
    return v


class AwsAccountConfig(_Strict):
    """An account to scan and act in: through AssumeRole on `role_arn`, or — without one — with the default
    credentials, which must then be this account's."""

    id: str
    role_arn: str | None = None
    regions: list[str] | None = None  # this account's regions; default: the provider's

    @field_validator("id", mode="before")
    @classmethod
    def _quoted(cls, v: Any) -> Any:
        if isinstance(v, int):
            raise ValueError('write the account id in quotes, e.g. "011122223333" (unquoted, YAML reads a number '
                             "and leading zeros are lost)")
        return v

    @field_validator("id")
    @classmethod
    def _twelve_digits(cls, v: str) -> str:
        if not _ACCOUNT_ID.match(v):
            raise ValueError(f"'{v}' is not an AWS account id (12 digits)")
        return v

    @field_validator("role_arn")
    @classmethod
    def _role(cls, v: str | None) -> str | None:
        if v is not None and not _ROLE_ARN.match(v):
            raise ValueError(f"'{v}' is not an IAM role ARN such as arn:aws:iam::111122223333:role/costbot")
        return v

    @field_validator("regions")
    @classmethod
    def _region_names(cls, v: list[str] | None) -> list[str] | None:
        return _regions(v)

    @model_validator(mode="after")
    def _role_in_account(self) -> AwsAccountConfig:
        m = _ROLE_ARN.match(self.role_arn or "")
        if m and m.group(1) != self.id:
            raise ValueError(f"role_arn {self.role_arn} is a role of account {m.group(1)}, not of {self.id}")
        return self


class AwsProviderConfig(_Strict):
    """AWS: `accounts` (each through its own role) in `regions`; without accounts, the default credentials'
    account. A top-level `role_arn` is shorthand for one account: the role's."""

    kind: Literal["aws"]
    name: str = "aws"  # the first part of its resources' keys; unique among providers
    regions: list[str] = Field(default_factory=lambda: ["us-east-1"], min_length=1)
    accounts: list[AwsAccountConfig] = Field(default_factory=list)
    role_arn: str | None = None
    # the resource kinds to scan and act on (ec2, notebook, endpoint, volume, snapshot, bucket, training); default all.
    # Each kind needs its own read permissions: list the ones its role may see.
    kinds: list[str] | None = Field(default=None, min_length=1)

    @field_validator("regions")
    @classmethod
    def _region_names(cls, v: list[str]) -> list[str]:
        return _regions(v) or []

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _PROVIDER_NAME.match(v):
            raise ValueError(f"provider name '{v}' must be letters, digits, '-', '_' or '.' (at most 64)")
        return v

    @field_validator("role_arn")
    @classmethod
    def _role(cls, v: str | None) -> str | None:
        if v is not None and not _ROLE_ARN.match(v):
            raise ValueError(f"'{v}' is not an IAM role ARN such as arn:aws:iam::111122223333:role/costbot")
        return v

    @model_validator(mode="after")
    def _one_way_to_name_accounts(self) -> AwsProviderConfig:
        if self.role_arn and self.accounts:
            raise ValueError("role_arn at the top level stands for one account (the role's); with `accounts`, give "
                             "each account its own role_arn")
        ids = [a.id for a in self.accounts]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"account {', '.join(twice)} is listed more than once")
        return self

    def account_list(self) -> list[AwsAccountConfig]:
        """The accounts to scan; empty: the default credentials' own account."""
        if self.role_arn:
            m = _ROLE_ARN.match(self.role_arn)
            assert m is not None  # validated
            return [AwsAccountConfig(id=m.group(1), role_arn=self.role_arn)]
        return list(self.accounts)

    def coverage(self) -> list[tuple[str, str]]:
        """(account, region) pairs it scans, as far as the config says."""
        return [(a.id, region) for a in self.account_list() for region in a.regions or self.regions]


class DemoProviderConfig(_Strict):
    """The demo organization's instances, notebooks and endpoints (no cloud account): what costbot changes on
    them is kept in the app-state database."""

    kind: Literal["demo"]
    name: str = "demo"

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _PROVIDER_NAME.match(v):
            raise ValueError(f"provider name '{v}' must be letters, digits, '-', '_' or '.' (at most 64)")
        return v

    def coverage(self) -> list[tuple[str, str]]:
        return []  # fictional accounts: nothing a real provider could also cover


# One model per provider kind, told apart by `kind`: adding a kind is one more member here (`A | B`).
ProviderConfig = Annotated[AwsProviderConfig | DemoProviderConfig, Field(discriminator="kind")]


def _kinds(union: Any) -> tuple[str, ...]:
    inner = get_args(union)[0]
    return tuple(get_args(m.model_fields["kind"].annotation)[0] for m in (get_args(inner) or (inner,)))


PROVIDER_KINDS = _kinds(ProviderConfig)


def _unique_providers(providers: list[Any]) -> list[Any]:
    """Providers are keyed by name (their resources' keys start with it): two with one name would silently
    become one. Two providers scanning the same account and region would offer each resource twice."""
    first: dict[str, int] = {}
    covered: dict[tuple[str, str], int] = {}
    for i, p in enumerate(providers):
        if p.name in first:
            raise ValueError(f"providers.{first[p.name]} and providers.{i} are both named '{p.name}': give each "
                             "provider its own `name`")
        first[p.name] = i
        for account, region in p.coverage():
            j = covered.setdefault((account, region), i)
            if j != i:
                raise ValueError(f"providers.{j} and providers.{i} both cover account {account} in {region}")
    return providers


class RulesConfig(_Strict):
    protect_tag: dict[str, str] = Field(default_factory=lambda: {"costbot": "protected"})
    idle_gpu_percent: float = Field(default=5.0, ge=0, le=100)
    idle_cpu_percent: float = Field(default=10.0, ge=0, le=100)
    idle_network_bytes_per_hour: float = Field(default=5_000_000.0, ge=0)
    idle_hours: int = Field(default=24, ge=1)
    oversized_p95_percent: float = Field(default=30.0, ge=0, le=100)
    oversized_days: int = Field(default=7, ge=1, le=14)
    gpu_metric: dict[str, str] = Field(default_factory=lambda: {"namespace": "CWAgent",
                                                                "name": "nvidia_smi_utilization_gpu"})
    endpoint_min_instances: int = Field(default=1, ge=0)
    approval_hours: int = Field(default=24, ge=1)  # an unanswered action request expires after this
    undo_hours: int = Field(default=24, ge=1)  # how long an Undo is offered
    snooze_days: int = Field(default=7, ge=1, le=365)
    scan_every_hours: int = Field(default=6, ge=1, le=168)
    unattached_days: int = Field(default=14, ge=1, le=3650)  # an unattached volume this old: Snapshot & delete
    snapshot_retention_days: int = Field(default=90, ge=1, le=3650)  # a snapshot of a gone volume: Delete
    # an EC2 instance with any of these tags does batch training: on on-demand capacity, it is offered spot
    training_tags: dict[str, str] = Field(default_factory=lambda: {"workload": "training"})


class AllocationRule(_Strict):
    name: str
    select: dict[str, Any]
    method: Literal["proportional", "even", "weights", "usage"] = "proportional"
    to: list[str] | None = None
    weights: dict[str, Decimal] | None = None
    metric: str | None = None  # method usage: the usage metric (`costbot ingest-usage`)
    within_category: str | None = None  # method proportional: weigh by direct cost in this service category


class AnomalyConfig(_Strict):
    relative_percent: Decimal = Field(default=Decimal(50), gt=0)  # above the baseline by more than this %
    absolute_per_day: Decimal = Field(default=Decimal(50), ge=0)  # and by more than this amount a day
    # the alert job catches up on every day since it last looked; anomalies on days older than this (found after
    # downtime or late billing data) are kept for `/cost anomalies` but not posted
    alert_horizon_days: int = Field(default=7, ge=1, le=90)


class EnforcementRule(_Strict):
    """Graduated enforcement of one team's budget."""

    scope: str  # a team
    warn_percent: int = Field(default=80, ge=1)  # of the budget, actual: alert only
    propose_percent: int = Field(default=100, ge=1)  # of the budget, forecast: offer non-critical resources
    limit_percent: int = Field(default=120, ge=1)  # of the budget, actual: act on opted-in resources
    auto: bool = False  # at the limit, stop the non-critical resources without waiting for an approver
    non_critical: dict[str, list[str]] = Field(default_factory=lambda: {"env": ["dev", "test"]})


_FAMILY = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


class EstimateConfig(_Strict):
    """The policy `costbot estimate` checks a change against, and where its prices come from."""

    max_monthly_increase: Decimal | None = Field(default=None, gt=0)  # per change, all teams together
    forbidden_families: list[str] = Field(default_factory=list)  # e.g. [p4de]: never passes
    approval_families: list[str] = Field(default_factory=list)  # e.g. [p5]: passes once a team approver approves
    budget_cap: bool = True  # a team's budget headroom this month must stay >= 0 after the change
    fail_on_unpriced: bool = False  # an unpriced resource fails the check (else it is listed, not counted)
    approval_days: int = Field(default=14, ge=1, le=365)  # how long an approval (or a request) holds
    prices: Literal["auto", "bundled"] = "auto"  # auto: the Price List API, else the bundled table
    price_cache_days: int = Field(default=7, ge=0, le=90)  # Price List answers kept this long (0: not kept)

    @field_validator("forbidden_families", "approval_families")
    @classmethod
    def _families(cls, v: list[str]) -> list[str]:
        for family in v:
            if not _FAMILY.match(family):
                raise ValueError(f"'{family}' is not an instance family such as p5 or g5 (no size, no 'ml.')")
        return v


class MlflowConfig(_Strict):
    """`costbot mlflow sync`: which runs get their cost written back, and how a run names its training job."""

    tracking_uri: str | None = None  # else MLFLOW_TRACKING_URI
    experiments: list[str] = Field(default_factory=list)  # experiment names to sync; empty: every experiment
    training_job_tag: str = "sagemaker_training_job"  # a run tag holding the SageMaker training job (name or ARN)
    epochs_keys: list[str] = Field(default_factory=lambda: ["epochs", "epoch"])  # a param or metric: epoch count
    lookback_days: int = Field(default=90, ge=1, le=3660)  # runs started this recently, costs over this window


class ExperimentsConfig(_Strict):
    """Which tags name an experiment and a run on billing lines: `/cost by experiment`, `experiment:NAME`,
    `by run`, the digest's most expensive experiments and the MLflow sync read them."""

    tag: str = "experiment"
    run_tags: list[str] = Field(default_factory=lambda: ["mlflow_run_id"], min_length=1)
    digest_top: int = Field(default=5, ge=0, le=20)  # experiments in the weekly digest (0: none)
    mlflow: MlflowConfig = Field(default_factory=MlflowConfig)


_MEMORY = re.compile(r"^\d+(\.\d+)?\s*(%|B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)
MEMORY_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "kib": 2**10, "mib": 2**20,
                "gib": 2**30, "tib": 2**40}
MIN_MEMORY_BYTES = 128 * 10**6  # below this an ingest of one month's export spills nearly everything


def memory_limit_problem(value: str) -> str | None:
    """Why `value` is no memory limit DuckDB reads (a size such as 1GB or 512MiB, or a share of RAM such as 25%)
    big enough to work in, or None."""
    m = _MEMORY.match(value.strip())
    if m is None:
        return f"'{value}' is not a memory size such as 1GB, 512MB or 25%"
    amount, unit = float(value.strip()[: m.start(2)]), m.group(2).lower()
    if unit == "%":
        return None if 0 < amount <= 100 else f"'{value}' is not a share of memory between 0 and 100 %"
    if amount * MEMORY_UNITS[unit] < MIN_MEMORY_BYTES:
        return f"'{value}' is too little memory for the store (at least 128MB)"
    return None


class StoreConfig(_Strict):
    """The embedded DuckDB store's share of the machine. DuckDB's own default buffer pool is 80 % of RAM, so an
    ingest of a year's export would take gigabytes and keep them cached; with a limit, work beyond it spills to
    the data folder (`costs.duckdb.tmp`) instead."""

    memory_limit: str = "1GB"  # COSTBOT_DUCKDB_MEMORY overrides
    threads: int | None = Field(default=None, ge=1)  # per query; COSTBOT_DUCKDB_THREADS overrides
    # serve / scheduler: after this long without a question or a write (0: never), fold the billing files the store
    # keeps into its table (one at a time), then give the cached pages back
    idle_release_seconds: int = Field(default=60, ge=0, le=86400)

    @field_validator("memory_limit")
    @classmethod
    def _memory(cls, v: str) -> str:
        problem = memory_limit_problem(v)
        if problem is not None:
            raise ValueError(problem)
        return v.strip()


class CostbotConfig(_Strict):
    """The whole of costbot.yml."""

    timezone: str = "UTC"
    currency: str = "USD"
    metric: Literal["EffectiveCost", "BilledCost"] = "EffectiveCost"
    tag_keys: dict[str, str] = Field(
        default_factory=lambda: {"team": "team", "project": "project", "model": "model", "env": "env"}
    )
    teams: dict[str, TeamConfig] = Field(default_factory=dict)
    sources: list[SourceConfig] = Field(default_factory=list)
    providers: list[ProviderConfig] = Field(default_factory=list)
    rules: RulesConfig = Field(default_factory=RulesConfig)
    allocation: list[AllocationRule] = Field(default_factory=list)
    admins: list[str] = Field(default_factory=list)
    owners_channel: str | None = None  # where "Not mine" and unowned recommendations go
    sync_every_hours: int = Field(default=6, ge=1, le=168)  # the scheduler's billing-source sync
    anomalies: AnomalyConfig = Field(default_factory=AnomalyConfig)
    enforcement: list[EnforcementRule] = Field(default_factory=list)
    estimate: EstimateConfig = Field(default_factory=EstimateConfig)
    experiments: ExperimentsConfig = Field(default_factory=ExperimentsConfig)
    schedules: dict[str, ScheduleConfig] = Field(default_factory=dict)  # off-hours schedules by name
    store: StoreConfig = Field(default_factory=StoreConfig)
    dry_run: bool = False

    @field_validator("sources")
    @classmethod
    def _distinct_sources(cls, v: list[SourceConfig]) -> list[SourceConfig]:
        labels = [s.label for s in v]
        twice = sorted({x for x in labels if labels.count(x) > 1})
        if twice:
            raise ValueError(f"two sources are called {', '.join(twice)}: give each a different `name`")
        if sum(1 for s in v if s.kind == "athena") > 1:
            raise ValueError("at most one athena source: questions go to one query engine")
        return v

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        return _known_zone(v)

    @field_validator("schedules")
    @classmethod
    def _schedule_names(cls, v: dict[str, ScheduleConfig]) -> dict[str, ScheduleConfig]:
        for name in v:
            if not _SCHEDULE_NAME.match(name) or name.lower() in ("none", "off"):
                raise ValueError(f"schedule name '{name}' must be letters, digits, '-', '_' or '.' (at most 48; not "
                                 "none or off)")
        return v

    @model_validator(mode="after")
    def _team_schedules_exist(self) -> CostbotConfig:
        for team, cfg in self.teams.items():
            if cfg.schedule is not None and cfg.schedule.name not in self.schedules:
                known = ", ".join(self.schedules) or "none are defined under `schedules:`"
                raise ValueError(f"teams.{team}.schedule: unknown schedule '{cfg.schedule.name}' (known: {known})")
        return self

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Z]{3}", v):
            raise ValueError("expected a 3-letter ISO currency code such as USD")
        return v

    @field_validator("teams")
    @classmethod
    def _team_names(cls, v: dict[str, TeamConfig]) -> dict[str, TeamConfig]:
        for name in v:
            if not _TEAM_NAME.match(name) or ":" in name:
                raise ValueError(f"team name '{name}' must be letters, digits, '-', '_' or '.'")
        return v

    @field_validator("providers")
    @classmethod
    def _providers(cls, v: list[Any]) -> list[Any]:
        return _unique_providers(v)

    @field_validator("tag_keys")
    @classmethod
    def _team_key(cls, v: dict[str, str]) -> dict[str, str]:
        if "team" not in v:
            raise ValueError("tag_keys needs a 'team' entry (the tag that says who owns a line item)")
        return v

    @cached_property
    def grammar(self) -> Grammar:
        return Grammar(teams=tuple(self.teams), tag_keys=self.dimension_keys)

    @cached_property
    def dimension_keys(self) -> dict[str, str]:
        """`tag_keys`, plus `experiment` and `run` from `experiments:` unless tag_keys names them itself."""
        keys = dict(self.tag_keys)
        lowered = {k.lower() for k in keys}
        for dimension, key in (("experiment", self.experiments.tag), ("run", self.experiments.run_tags[0])):
            if dimension not in lowered:
                keys[dimension] = key
        return keys

    def source_complements(self) -> set[tuple[str, str]]:
        """Pairs of source labels declared complementary (`complements:` on either one)."""
        return {(s.label, other) for s in self.sources for other in s.complements}

    def owner_team(self, tags: dict[str, str]) -> str | None:
        """The first team (in config order) whose tags all match the resource's (case-insensitive)."""
        lowered = {k.lower(): v.lower() for k, v in tags.items()}
        for name in self.teams:
            wanted = self.team_tags(name)
            if all(lowered.get(k.lower()) == v.lower() for k, v in wanted.items()):
                return name
        return None

    def is_prod(self, tags: dict[str, str]) -> bool:
        """A production resource: `env=prod`, by the `env` tag itself or by the tag key `tag_keys.env` maps it to
        (a policy or a schedule never acts on it, whichever of the two an organization tags with)."""
        keys = {"env", self.grammar.tag_key_for("env").lower()}
        return any(k.lower() in keys and v.strip().lower() == "prod" for k, v in tags.items())

    def rules_for(self, team: str | None) -> RulesConfig:
        if team is not None and team in self.teams and self.teams[team].rules is not None:
            return self.teams[team].rules  # type: ignore[return-value]
        return self.rules

    def channel_for(self, team: str | None) -> str | None:
        """Where a team hears about its resources and budgets: its channel, else the owners channel."""
        channel = self.teams[team].channel if team is not None and team in self.teams else None
        return channel or self.owners_channel

    def approvers(self, team: str | None) -> list[str]:
        """Who may approve an action on a team's resource: its approvers, then the admins."""
        team_approvers = list(self.teams[team].approvers) if team is not None and team in self.teams else []
        return team_approvers + [a for a in self.admins if a not in team_approvers]

    def can_approve(self, user_id: str, team: str | None) -> bool:
        if user_id in self.admins:
            return True
        return team is not None and team in self.teams and user_id in self.teams[team].approvers

    def teams_of(self, user_id: str) -> list[str]:
        """Teams a Slack user belongs to: listed as a member or an approver."""
        return [name for name, t in self.teams.items() if user_id in t.members or user_id in t.approvers]

    def indexed_tag_keys(self) -> set[str]:
        """Tag keys the config filters and groups on: worth materializing in the store."""
        keys = set(self.dimension_keys.values()) | set(self.experiments.run_tags)
        for team in self.teams:
            keys |= set(self.team_tags(team))
        return keys

    def schedule_for(self, tags: dict[str, str], kind: str) -> str | None:
        """The schedule a resource follows: its own `costbot:schedule` tag (`none` opts out; an unknown name
        follows none), else its owning team's schedule when the resource matches its tags and kinds."""
        own = next((v.strip() for k, v in tags.items() if k.lower() == "costbot:schedule"), None)
        if own is not None:
            if own.lower() in ("none", "off"):
                return None
            return next((name for name in self.schedules if name.lower() == own.lower()), None)
        team = self.owner_team(tags)
        chosen = self.teams[team].schedule if team is not None else None
        if chosen is None:
            return None
        lowered = {k.lower(): v.lower() for k, v in tags.items()}
        wanted = {self.grammar.tag_key_for(k).lower(): v.lower() for k, v in chosen.tags.items()}
        if any(lowered.get(k) != v for k, v in wanted.items()):
            return None
        return chosen.name if chosen.kinds is None or kind in chosen.kinds else None

    def schedule_zone(self, name: str) -> str:
        return self.schedules[name].timezone or self.timezone

    def team_tags(self, team: str) -> dict[str, str]:
        """A team's matching tags with dimension names mapped to real tag keys."""
        return {self.grammar.tag_key_for(k): v for k, v in self.teams[team].tags.items()}


def _format_errors(err: ValidationError, source: str) -> str:
    lines = [f"{source} is not valid:"]
    for e in err.errors():
        loc = e["loc"]
        if len(loc) > 2 and loc[0] == "providers" and loc[2] in PROVIDER_KINDS:
            loc = loc[:2] + loc[3:]  # the union's tag: providers.0.aws.regions -> providers.0.regions
        path = ".".join(str(p) for p in loc) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        elif e["type"] == "missing":
            msg = "required key is missing"
        lines.append(f"  {path}: {msg}")
    return "\n".join(lines)


def parse_config(data: Any, source: str = "config") -> CostbotConfig:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of keys at the top level")
    try:
        return CostbotConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_errors(err, source)) from None


def load_config(path: Path | None) -> CostbotConfig:
    """Load and validate a YAML config; None means the built-in demo config."""
    if path is None:
        text = resources.files("bot").joinpath("demo_config.yml").read_text(encoding="utf-8")
        return parse_config(yaml.safe_load(text), "built-in demo config")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    return parse_config(data, str(path))


class Settings:
    """Environment settings. Secrets are read here and only here, and never printed."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self._env = dict(os.environ if env is None else env)

    def with_values(self, values: dict[str, str]) -> Settings:
        """These settings with some values replaced (the playground points the app's Slack at itself)."""
        return Settings({**self._env, **values})

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self._env.get(name)
        return value if value not in (None, "") else default

    @property
    def config_path(self) -> Path | None:
        explicit = self.get("COSTBOT_CONFIG")
        if explicit:
            return Path(explicit)
        local = Path("costbot.yml")
        return local if local.exists() else None

    @property
    def data_dir(self) -> Path:
        return Path(self.get("COSTBOT_DATA_DIR", ".costbot") or ".costbot")

    @property
    def database_url(self) -> str:
        return self.get("DATABASE_URL") or f"sqlite:///{(self.data_dir / 'state.db').as_posix()}"

    @property
    def slack_api_url(self) -> str:
        return self.get("SLACK_API_URL", "https://slack.com/api/") or "https://slack.com/api/"

    @property
    def port(self) -> int:
        raw = self.get("PORT", "3000") or "3000"
        if not raw.isdigit():
            raise ConfigError(f"PORT must be a number, got '{raw}'")
        return int(raw)

    def today(self, timezone: str) -> date:
        """Today's date in the configured zone; COSTBOT_TODAY=YYYY-MM-DD pins it (tests, reproducible runs)."""
        pinned = self.get("COSTBOT_TODAY")
        if pinned:
            try:
                return date.fromisoformat(pinned)
            except ValueError:
                raise ConfigError(f"COSTBOT_TODAY must be YYYY-MM-DD, got '{pinned}'") from None
        return datetime.now(ZoneInfo(timezone)).date()

    @cached_property
    def config(self) -> CostbotConfig:
        return load_config(self.config_path)
