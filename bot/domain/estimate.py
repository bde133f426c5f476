"""Cost estimates of a change before it is applied: what a Terraform plan (and the usage file beside it) adds
to or removes from the monthly bill, per resource and team, and whether that passes the configured policy.

Pure: a parsed plan and prices in, priced lines and a verdict out. Money stays Decimal; rounding happens when
a figure is shown.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from bot.domain.errors import CostbotError
from bot.domain.money import ZERO, format_money

HOURS_PER_MONTH = Decimal(730)  # AWS's own convention for a month of an always-on resource

PriceKind = Literal["ec2", "sagemaker_hosting", "sagemaker_training", "sagemaker_notebook", "ebs"]
ChangeAction = Literal["create", "update", "delete", "replace"]
Verdict = Literal["pass", "approved", "needs approval", "rejected", "over policy"]


class PlanError(CostbotError):
    """The plan or the usage file cannot be read; the message says which file and what is wrong (exit 2)."""

    exit_code = 2


@dataclass(frozen=True)
class Usage:
    """One priced quantity of a resource: `count` units of `item` (an instance type, or a volume type for
    EBS) for `hours` a month, or `quantity` GB-months for storage. `one_off_hours` is a one-time run."""

    kind: PriceKind
    item: str
    count: Decimal = Decimal(1)
    hours: Decimal = HOURS_PER_MONTH  # per month (instances); ignored for storage
    quantity: Decimal = Decimal(0)  # GB (storage)
    one_off_hours: Decimal = ZERO  # a one-time run (a training job's max hours)
    spot_discount_percent: Decimal = ZERO
    note: str = ""  # e.g. "variant AllTraffic", "spot: at most on-demand"

    @property
    def family(self) -> str:
        """`p5` for p5.48xlarge and ml.p5.48xlarge; the volume type for storage."""
        return self.item.removeprefix("ml.").split(".")[0] if self.kind != "ebs" else self.item


@dataclass(frozen=True)
class PlannedResource:
    """A resource of the plan as it is before and after the change (empty usage: nothing priced)."""

    address: str
    type: str  # the Terraform resource type, e.g. aws_instance
    action: ChangeAction
    before: tuple[Usage, ...] = ()
    after: tuple[Usage, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    region: str | None = None
    unpriced: str | None = None  # why this resource cannot be priced at all (e.g. an unknown type in the plan)
    team: str | None = None  # named by the usage file (training jobs); else the team its tags match


@dataclass(frozen=True)
class Plan:
    """A parsed plan: its priced resources, the ones without a price model, and its identity."""

    digest: str  # sha256 of what is priced (resource changes and usage): the approval's key
    resources: tuple[PlannedResource, ...]
    skipped: tuple[tuple[str, str], ...] = ()  # (address, type) of resources with no usage cost model
    region: str | None = None
    name: str = ""  # the file name, for messages
    default_team: str | None = None  # the usage file's team, for resources no team's tags match


@dataclass(frozen=True)
class PriceQuote:
    """A unit price (USD per hour, or per GB-month for storage) and where it came from."""

    amount: Decimal
    source: str  # "AWS Price List API (us-east-1, 2026-11-28)" or "bundled table (us-east-1, 2025)"


@dataclass(frozen=True)
class CostLine:
    """One resource's change in cost. `monthly_delta` is after − before; `one_off` a one-time cost."""

    address: str
    type: str
    action: ChangeAction
    description: str
    team: str | None
    monthly_before: Decimal = ZERO
    monthly_after: Decimal = ZERO
    one_off: Decimal = ZERO
    families: tuple[str, ...] = ()
    price_sources: tuple[str, ...] = ()
    unpriced: str | None = None  # why no price: shown as its own line, never counted as 0 silently

    @property
    def monthly_delta(self) -> Decimal:
        return self.monthly_after - self.monthly_before


@dataclass(frozen=True)
class Headroom:
    """A team's budget this month before and after the change: budget − forecast (month to date plus the rest
    of the month at its pace) − the change's share of the month's remaining days − one-off costs."""

    team: str
    budget: Decimal | None
    month_to_date: Decimal
    forecast: Decimal
    change_this_month: Decimal

    @property
    def before(self) -> Decimal | None:
        return self.budget - self.forecast if self.budget is not None else None

    @property
    def after(self) -> Decimal | None:
        return self.before - self.change_this_month if self.before is not None else None


@dataclass(frozen=True)
class Policy:
    """What a change may do (costbot.yml `estimate:`)."""

    max_monthly_increase: Decimal | None = None  # per change, all teams together
    forbidden_families: tuple[str, ...] = ()
    approval_families: tuple[str, ...] = ()
    budget_cap: bool = True  # a team's headroom this month must stay >= 0 after the change
    fail_on_unpriced: bool = False


@dataclass(frozen=True)
class Finding:
    """One reason a change does not simply pass. `approvable`: an approver can let it through."""

    team: str | None
    reason: str
    approvable: bool = True


@dataclass(frozen=True)
class Decision:
    """A recorded decision on a plan for one team (an approval request and its outcome)."""

    team: str | None
    status: str  # requested | approved | rejected | expired
    by: str | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class Estimate:
    plan: Plan
    lines: tuple[CostLine, ...]
    headroom: tuple[Headroom, ...]
    findings: tuple[Finding, ...]
    currency: str = "USD"
    decisions: tuple[Decision, ...] = ()
    price_sources: tuple[str, ...] = ()
    as_of: date | None = None

    @property
    def monthly_delta(self) -> Decimal:
        return sum((line.monthly_delta for line in self.lines), ZERO)

    @property
    def one_off(self) -> Decimal:
        return sum((line.one_off for line in self.lines), ZERO)

    @property
    def unpriced(self) -> tuple[CostLine, ...]:
        return tuple(line for line in self.lines if line.unpriced is not None)

    def teams(self) -> tuple[str | None, ...]:
        return tuple(dict.fromkeys(line.team for line in self.lines))

    def approvals_needed(self) -> tuple[str | None, ...]:
        """Teams whose findings an approver could let through (forbidden ones never pass)."""
        return tuple(dict.fromkeys(f.team for f in self.findings if f.approvable))

    @property
    def verdict(self) -> Verdict:
        """pass; approved (every finding let through by its team's approver); needs approval (every finding can
        be approved, and none is decided against); rejected; over policy (a forbidden family)."""
        if not self.findings:
            return "pass"
        if any(not f.approvable for f in self.findings):
            return "over policy"
        needed = self.approvals_needed()
        decided = {d.team: d.status for d in self.decisions}
        if any(decided.get(team) == "rejected" for team in needed):
            return "rejected"
        if all(decided.get(team) == "approved" for team in needed):
            return "approved"
        return "needs approval"

    @property
    def passed(self) -> bool:
        return self.verdict in ("pass", "approved")


# -- pricing -----------------------------------------------------------------------------------------------
def usage_cost(usage: Usage, price: Decimal) -> tuple[Decimal, Decimal]:
    """(monthly, one-off) of one usage at a unit price."""
    factor = (Decimal(100) - usage.spot_discount_percent) / Decimal(100)
    if usage.kind == "ebs":
        return usage.quantity * usage.count * price, ZERO
    monthly = usage.count * usage.hours * price * factor
    return monthly, usage.count * usage.one_off_hours * price * factor


def describe_usage(usage: Usage) -> str:
    if usage.kind == "ebs":
        return f"{usage.item} {usage.quantity.normalize():f} GB"
    count = f"{usage.count.normalize():f} × " if usage.count != 1 else ""
    hours = "" if usage.hours == HOURS_PER_MONTH else f" × {usage.hours.normalize():f} h/month"
    if usage.one_off_hours and not usage.hours:
        hours = f" × {usage.one_off_hours.normalize():f} h"
    note = f" ({usage.note})" if usage.note else ""
    return f"{count}{usage.item}{hours}{note}"


def change_this_month(monthly_delta: Decimal, one_off: Decimal, today: date) -> Decimal:
    """The change's cost within this month: the remaining days' share of the monthly delta (today included, as
    the forecast counts it) plus one-off costs."""
    days = calendar.monthrange(today.year, today.month)[1]
    remaining = days - today.day + 1
    return monthly_delta * remaining / days + one_off


def findings(lines: tuple[CostLine, ...], headroom: tuple[Headroom, ...], policy: Policy,
             currency: str = "USD") -> tuple[Finding, ...]:
    """Every way the change breaks the policy, team by team (a team of None: lines no team owns)."""
    out: list[Finding] = []
    for line in lines:
        for family in line.families:
            if family in policy.forbidden_families:
                out.append(Finding(line.team, f"{line.address} uses the forbidden instance family {family}",
                                   approvable=False))
            elif family in policy.approval_families:
                out.append(Finding(line.team, f"{line.address} uses the instance family {family}, which needs an "
                                              "approval"))
        if line.unpriced is not None and policy.fail_on_unpriced:
            out.append(Finding(line.team, f"{line.address} could not be priced ({line.unpriced})"))
    if policy.max_monthly_increase is not None:
        by_team: dict[str | None, Decimal] = {}
        for line in lines:
            by_team[line.team] = by_team.get(line.team, ZERO) + line.monthly_delta
        total = sum(by_team.values(), ZERO)
        if total > policy.max_monthly_increase:
            growing = [t for t, v in by_team.items() if v > 0] or [None]
            for team in growing:
                out.append(Finding(team, f"the change adds {format_money(total, currency)}/month, over the "
                                         f"{format_money(policy.max_monthly_increase, currency)} a change may add"))
    if policy.budget_cap:
        for h in headroom:
            if h.after is not None and h.after < 0 and h.change_this_month > 0:
                out.append(Finding(h.team, f"{h.team} would be {format_money(-h.after, currency)} over its "
                                           "budget this month"))
    return tuple(out)


@dataclass(frozen=True)
class PlanApproval:
    """An approval request for one plan and one team, posted to the team's channel, and its outcome. What the
    message shows is kept with it, so it can be redrawn when someone decides."""

    plan_hash: str
    team: str | None
    status: str  # requested | approved | rejected
    requested_by: str
    monthly_delta: Decimal
    one_off: Decimal
    reasons: tuple[str, ...]
    title: str = ""  # what the change is: a PR, a branch, the plan's file name
    headroom_after: Decimal | None = None
    currency: str = "USD"
    id: int | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    created_at: datetime | None = None
    expires_at: datetime | None = None
    channel: str | None = None
    message_ts: str | None = None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def decision(self, now: datetime) -> Decision:
        status = "expired" if self.expired(now) and self.status != "rejected" else self.status
        return Decision(self.team, status, self.decided_by, self.decided_at)


@dataclass(frozen=True)
class GuardCheck:
    """`costbot guard`: whether a run of at most `max_cost` fits the team's budget headroom this month."""

    team: str
    max_cost: Decimal
    headroom: Headroom
    command: str = ""
    currency: str = "USD"

    @property
    def allowed(self) -> bool:
        before = self.headroom.before
        return before is None or before >= self.max_cost

    @property
    def reason(self) -> str:
        before = self.headroom.before
        cur = self.currency
        if before is None:
            return f"{self.team} has no budget: nothing to guard"
        if self.allowed:
            return (f"{format_money(self.max_cost, cur)} fits {self.team}'s headroom of "
                    f"{format_money(before, cur)} this month")
        budget, forecast = format_money(self.headroom.budget or ZERO, cur), format_money(self.headroom.forecast, cur)
        return (f"{self.team}'s budget headroom this month is {format_money(before, cur)} (budget {budget} − "
                f"forecast {forecast}), under the run's {format_money(self.max_cost, cur)}")


class GuardRefused(CostbotError):
    """A guarded run was refused: the team's budget headroom is below the run's estimate (exit 1)."""

    def __init__(self, check: GuardCheck) -> None:
        super().__init__(f"refused to start: {check.reason}")
        self.check = check
