"""Graduated budget enforcement, per team: warn (the budget alerts, at the rule's `warn_percent`), propose
(post the team's non-critical resources with Stop buttons, through the approval flow), and at the limit, if
the team opted in (`auto: true`), stop them under the policy — still audited, still re-checked, never
protected resources, never env=prod. Each step happens once per team and month."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.config import CostbotConfig, EnforcementRule
from bot.domain.errors import CostbotError
from bot.domain.recommendations import Recommendation, is_protected
from bot.domain.resources import Resource
from bot.ports import ResourceProvider
from bot.services.actions import BUDGET, ActionService
from bot.services.budgets import BudgetService
from bot.services.scans import domain_rules

log = logging.getLogger("costbot.enforcement")


class EnforcementService:
    def __init__(self, config: CostbotConfig, budgets: BudgetService, actions: ActionService,
                 providers: Sequence[ResourceProvider]) -> None:
        self.config = config
        self.budgets = budgets
        self.actions = actions
        self.providers = list(providers)

    def non_critical(self, rule: EnforcementRule) -> list[Resource]:
        """The team's running resources that its rule calls non-critical and that can be stopped, protected ones
        left out."""
        rules = domain_rules(self.config.rules_for(rule.scope))
        wanted = {k.lower(): {v.lower() for v in values} for k, values in rule.non_critical.items()}
        found = []
        for provider in self.providers:
            for res in provider.list_resources():
                tags = {k.lower(): v.lower() for k, v in res.tags.items()}
                if (res.running and not res.stopped and res.supports("stop")
                        and self.config.owner_team(res.tags) == rule.scope and not is_protected(res, rules)
                        and any(tags.get(k) in vs for k, vs in wanted.items())):
                    found.append(res)
        return found

    def enforce(self) -> dict[str, list[str]]:
        """Run every rule once; returns what happened per team (for logs and tests)."""
        done: dict[str, list[str]] = {}
        for rule in self.config.enforcement:
            try:
                status = self.budgets.status(rule.scope)
            except CostbotError as exc:
                log.warning("enforcement for %s skipped: %s", rule.scope, exc)
                continue
            steps = done.setdefault(rule.scope, [])
            if status.forecast_percent >= rule.propose_percent and self.budgets.claim_step(
                    rule.scope, status.month, f"propose:{rule.propose_percent}"):
                steps.append(f"proposed {self._propose(rule, status.forecast_percent)}")
            if rule.auto and status.used_percent >= rule.limit_percent and self.budgets.claim_step(
                    rule.scope, status.month, f"limit:{rule.limit_percent}"):
                steps.append(f"stopped {self._act(rule, status.used_percent)}")
        return done

    def _propose(self, rule: EnforcementRule, percent: object) -> int:
        recs = []
        for res in self.non_critical(rule):
            env = next((v for k, v in res.tags.items() if k.lower() == "env"), "non-critical")
            recs.append(Recommendation(
                resource_key=res.ref.key, kind=BUDGET, team=rule.scope, name=res.name, resource_type=res.type,
                reason=f"{env} resource while {rule.scope} is forecast at {percent:.0f}% of its budget",
                hourly_price=res.hourly_price, monthly_savings=res.stop_savings))
        return len(self.actions.offer(rule.scope, recs))

    def _act(self, rule: EnforcementRule, percent: object) -> int:
        acted = 0
        for res in self.non_critical(rule):
            try:
                req = self.actions.request(res.ref.key, "stop", f"policy:{rule.scope}",
                                           policy=f"budget {rule.scope} at {percent:.0f}%",
                                           basis=(BUDGET, f"actual:{rule.limit_percent}"))
            except CostbotError as exc:
                log.info("policy skipped %s: %s", res.name, exc)
                continue
            acted += req.status == "succeeded"
        return acted
