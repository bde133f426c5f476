"""Cost checks before a change is applied (`costbot estimate`) and before a training run starts (`costbot
guard`): price a plan's resources, find their teams, weigh the change against each team's budget headroom this
month and the configured policy; ask a team's approvers when the policy says so, and remember their answer for
the same plan."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from bot.config import CostbotConfig
from bot.domain.actions import ActionNotAllowed
from bot.domain.errors import ConfigError, NotifyError, UnknownScope
from bot.domain.estimate import (
    CostLine,
    Estimate,
    GuardCheck,
    Headroom,
    Plan,
    PlanApproval,
    PlanError,
    PlannedResource,
    Policy,
    Usage,
    change_this_month,
    describe_usage,
    findings,
    usage_cost,
)
from bot.domain.money import ZERO
from bot.ports import EstimateNotifier, PlanApprovalStore, PlanReader, PriceSource
from bot.services.budgets import BudgetService

log = logging.getLogger("costbot.estimate")
DEFAULT_REGION = "us-east-1"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class EstimateService:
    def __init__(self, reader: PlanReader, prices: PriceSource, budgets: BudgetService, config: CostbotConfig,
                 approvals: PlanApprovalStore, notifier: EstimateNotifier | None, today: Callable[[], date],
                 now: Callable[[], datetime] = _utcnow) -> None:
        self.reader = reader
        self.prices = prices
        self.budgets = budgets
        self.config = config
        self.approvals = approvals
        self.notifier = notifier
        self.today = today
        self.now = now

    @property
    def policy(self) -> Policy:
        p = self.config.estimate
        return Policy(max_monthly_increase=p.max_monthly_increase, forbidden_families=tuple(p.forbidden_families),
                      approval_families=tuple(p.approval_families), budget_cap=p.budget_cap,
                      fail_on_unpriced=p.fail_on_unpriced)

    # -- the estimate -------------------------------------------------------------------------------------------
    def estimate(self, plan_path: Path, usage_path: Path | None = None, with_decisions: bool = True) -> Estimate:
        """Price the plan; the verdict includes the decisions already taken on this plan (by its hash)."""
        plan = self.reader.read(plan_path, usage_path)
        if plan.default_team is not None and plan.default_team not in self.config.teams:
            raise PlanError(f"{usage_path}: team '{plan.default_team}' is not a team of costbot.yml "
                            f"({', '.join(self.config.teams) or 'none configured'})")
        region = plan.region or self._default_region()
        lines = tuple(self._line(r, plan, region) for r in plan.resources)
        today = self.today()
        headroom = self._headroom(lines, today)
        found = findings(lines, headroom, self.policy, self.config.currency)
        sources = sorted({source for ln in lines for source in ln.price_sources})
        status = self.prices.status()
        estimate = Estimate(plan=plan, lines=lines, headroom=headroom, findings=found, currency=self.config.currency,
                            price_sources=tuple(sources) + ((status,) if status else ()), as_of=today)
        if with_decisions and found:
            now = self.now()
            decisions = tuple(a.decision(now) for a in self.approvals.for_plan(plan.digest))
            estimate = replace(estimate, decisions=decisions)
        return estimate

    def _default_region(self) -> str:
        """The first region a configured AWS provider covers, else us-east-1."""
        for provider in self.config.providers:
            for _account, region in provider.coverage():
                return region
        return DEFAULT_REGION

    def _team(self, resource: PlannedResource, plan: Plan) -> str | None:
        if resource.team is not None:
            if resource.team not in self.config.teams:
                raise PlanError(f"{resource.address}: team '{resource.team}' is not a team of costbot.yml")
            return resource.team
        owner = self.config.owner_team(resource.tags) if resource.tags else None
        return owner or plan.default_team

    def _price(self, usages: tuple[Usage, ...], region: str) -> tuple[Decimal, Decimal, list[str], list[str]]:
        """(monthly, one-off, price sources, what could not be priced) of a resource's usages."""
        monthly, one_off = ZERO, ZERO
        sources: list[str] = []
        missing: list[str] = []
        for usage in usages:
            quote = self.prices.price(usage.kind, usage.item, region)
            if quote is None:
                missing.append(f"no price for {usage.item} in {region}")
                continue
            m, o = usage_cost(usage, quote.amount)
            monthly, one_off = monthly + m, one_off + o
            sources.append(quote.source)
        return monthly, one_off, sources, missing

    def _line(self, resource: PlannedResource, plan: Plan, region: str) -> CostLine:
        team = self._team(resource, plan)
        where = resource.region or region
        if resource.unpriced is not None:
            return CostLine(resource.address, resource.type, resource.action, "", team, unpriced=resource.unpriced)
        before, _, sources_before, missing_before = self._price(resource.before, where)
        after, one_off, sources_after, missing_after = self._price(resource.after, where)
        missing = list(dict.fromkeys(missing_before + missing_after))
        return CostLine(
            address=resource.address, type=resource.type, action=resource.action,
            description=self._describe(resource), team=team, monthly_before=before, monthly_after=after,
            one_off=one_off, families=self._added_families(resource),
            price_sources=tuple(dict.fromkeys(sources_before + sources_after)),
            unpriced="; ".join(missing) if missing else None,
        )

    @staticmethod
    def _describe(resource: PlannedResource) -> str:
        before = " + ".join(describe_usage(u) for u in resource.before)
        after = " + ".join(describe_usage(u) for u in resource.after)
        if resource.action == "create":
            return after
        if resource.action == "delete":
            return before
        return after if before == after else f"{before} → {after}"

    @staticmethod
    def _added_families(resource: PlannedResource) -> tuple[str, ...]:
        """Instance families the change adds capacity of (a policy looks at what is added, not removed)."""
        def counts(usages: tuple[Usage, ...]) -> dict[str, Decimal]:
            out: dict[str, Decimal] = {}
            for u in usages:
                if u.kind != "ebs":
                    out[u.family] = out.get(u.family, ZERO) + u.count
            return out

        before, after = counts(resource.before), counts(resource.after)
        return tuple(f for f, n in after.items() if n > before.get(f, ZERO))

    def _headroom(self, lines: tuple[CostLine, ...], today: date) -> tuple[Headroom, ...]:
        out = []
        for team in dict.fromkeys(line.team for line in lines):
            if team is None:
                continue
            mine = [ln for ln in lines if ln.team == team]
            delta = sum((ln.monthly_delta for ln in mine), ZERO)
            one_off = sum((ln.one_off for ln in mine), ZERO)
            month = self.budgets.month(team)
            out.append(Headroom(team=team, budget=month.budget, month_to_date=month.month_to_date,
                                forecast=month.forecast, change_this_month=change_this_month(delta, one_off, today)))
        return tuple(out)

    # -- approvals ------------------------------------------------------------------------------------------------
    def request_approval(self, estimate: Estimate, requested_by: str, title: str = "") -> list[PlanApproval]:
        """Post the estimate to each team whose findings need an approver (their channel, else the owners
        channel), once per plan and team; returns the requests (new or already waiting)."""
        if self.notifier is None:
            raise ConfigError("--request-approval posts to Slack: set SLACK_BOT_TOKEN")
        now = self.now()
        expires = now + timedelta(days=self.config.estimate.approval_days)
        out = []
        for team in estimate.approvals_needed():
            channel = self.config.channel_for(team)
            if not channel:
                raise ConfigError(f"no channel to ask {team or 'an admin'} in: set teams.{team}.channel or "
                                  "owners_channel" if team else "no channel to ask an admin in: set owners_channel")
            mine = [ln for ln in estimate.lines if ln.team == team]
            head = next((h for h in estimate.headroom if h.team == team), None)
            approval, created = self.approvals.request(PlanApproval(
                plan_hash=estimate.plan.digest, team=team, status="requested", requested_by=requested_by,
                monthly_delta=sum((ln.monthly_delta for ln in mine), ZERO),
                one_off=sum((ln.one_off for ln in mine), ZERO),
                reasons=tuple(f.reason for f in estimate.findings if f.team == team),
                title=title or estimate.plan.name, headroom_after=head.after if head else None,
                currency=estimate.currency, created_at=now, expires_at=expires))
            if created or (approval.status == "requested" and not approval.message_ts):
                approvers = self.config.approvers(team)
                try:
                    posted_channel, ts = self.notifier.post_approval(channel, approval, approvers)
                except NotifyError:
                    log.warning("approval request %s for %s could not be posted", approval.id, team)
                    raise
                assert approval.id is not None
                self.approvals.set_message(approval.id, posted_channel, ts)
                approval = self.approvals.approval(approval.id) or approval
            out.append(approval)
        return out

    def decide(self, approval_id: int, user: str, approve: bool) -> PlanApproval:
        """A team approver's Approve or Reject: the first decision wins, and the message says who decided."""
        approval = self.approvals.approval(approval_id)
        if approval is None:
            raise ActionNotAllowed("this approval request is no longer known")
        if not self.config.can_approve(user, approval.team):
            approvers = ", ".join(f"<@{a}>" for a in self.config.approvers(approval.team)) or "an admin"
            raise ActionNotAllowed(f"only {approval.team or 'the admins'}'s approvers ({approvers}) can decide on "
                                   "this change")
        if approval.status == "requested" and approval.expired(self.now()):
            raise ActionNotAllowed("this approval request has expired: run the check again with --request-approval")
        status = "approved" if approve else "rejected"
        if not self.approvals.decide(approval_id, status, user):
            current = self.approvals.approval(approval_id) or approval
            raise ActionNotAllowed(f"this change was already {current.status}"
                                   + (f" by <@{current.decided_by}>" if current.decided_by else ""))
        decided = self.approvals.approval(approval_id) or approval
        if self.notifier is not None:
            try:
                self.notifier.update_approval(decided, self.config.approvers(decided.team))
            except NotifyError:
                log.warning("approval message %s could not be updated", approval_id)
        return decided

    # -- guarded runs ---------------------------------------------------------------------------------------------
    def guard(self, team: str, max_cost: Decimal, command: str = "", post: bool = True) -> GuardCheck:
        """Whether a run of at most `max_cost` fits `team`'s headroom this month (budget − forecast); a refusal
        is posted to the team's channel when Slack is configured."""
        if team not in self.config.teams:
            raise UnknownScope(f"unknown team '{team}' (teams: {', '.join(self.config.teams) or 'none'})", word=team)
        if max_cost <= 0:
            raise PlanError("--max-usd must be a positive amount")
        month = self.budgets.month(team)
        check = GuardCheck(team=team, max_cost=max_cost, command=command, currency=self.config.currency,
                           headroom=Headroom(team=team, budget=month.budget, month_to_date=month.month_to_date,
                                             forecast=month.forecast, change_this_month=max_cost))
        channel = self.config.channel_for(team)
        if not check.allowed and post and self.notifier is not None and channel:
            try:
                self.notifier.post_guard_refusal(channel, check)
            except NotifyError:
                log.warning("guard refusal for %s could not be posted", team)
        return check
