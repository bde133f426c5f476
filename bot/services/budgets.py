"""Budgets: the one owner of a scope's budget (the config, overridden by `/cost budget set`) and of the
month-end forecast (weekday-aware), the status every surface shows — `/cost budget`, digests, App Home — and
budget alerts posted once per threshold and month."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from bot.config import CostbotConfig
from bot.domain.actions import ActionNotAllowed
from bot.domain.answers import resource_labels
from bot.domain.budgets import DEFAULT_THRESHOLDS, BudgetStatus, Threshold, forecast_month_end, run_out_day
from bot.domain.changes import Change
from bot.domain.errors import CostbotError, QueryError
from bot.domain.money import ZERO
from bot.domain.query import Query
from bot.domain.spec import NONE_KEY, Grouping
from bot.ports import CostQueries, InsightNotifier, InsightStore
from bot.services.scopes import ScopeResolver

log = logging.getLogger("costbot.budgets")
LOOKBACK_DAYS = 35  # the forecast's four weeks of weekday pace, and a little more


class BudgetService:
    def __init__(self, queries: CostQueries, scopes: ScopeResolver, config: CostbotConfig, store: InsightStore,
                 notifier: InsightNotifier | None, today: Callable[[], date]) -> None:
        self.queries = queries
        self.scopes = scopes
        self.config = config
        self.store = store
        self.notifier = notifier
        self.today = today

    # -- the budget of a scope -----------------------------------------------------------------------------
    def budget_for(self, scope: str) -> Decimal | None:
        """A budget set from Slack wins over the config's; the whole organization's ("") is, unless one was
        set for it, the sum of its teams' budgets."""
        overrides = self.store.budgets()
        if scope in overrides:
            return Decimal(overrides[scope])
        if scope == "":
            budgets = [b for b in (self.budget_for(team) for team in self.config.teams) if b is not None]
            return sum(budgets, ZERO) if budgets else None
        team = self.config.teams.get(scope)
        return team.budget.monthly if team and team.budget else None

    def budgeted_scopes(self) -> list[str]:
        scopes = [name for name, t in self.config.teams.items() if t.budget]
        return scopes + [s for s in self.store.budgets() if s not in scopes]

    def set_budget(self, scope: str, amount: Decimal, user: str) -> tuple[Decimal | None, Decimal, str | None]:
        """Admins only. Returns the budget before and after, and the channel that was told (a team's own), if
        one was: a team hears when its budget changes, and from whom."""
        if user not in self.config.admins:
            raise ActionNotAllowed("only admins can change budgets")
        self._scope(scope)
        if amount <= 0:
            raise QueryError("a budget must be a positive amount", word=str(amount))
        before = self.budget_for(scope)
        self.store.set_budget(scope, amount, user)
        channel = self.config.channel_for(scope) if scope in self.config.teams else None
        if channel is None or self.notifier is None or before == amount:
            return before, amount, None
        try:
            self.notifier.post_budget_change(channel, scope, before, amount, user)
        except CostbotError as exc:  # the budget is set; only the telling failed
            log.warning("could not tell %s about its new budget: %s", channel, exc)
            return before, amount, None
        return before, amount, channel

    def _scope(self, scope: str) -> Query:
        query = self.scopes.scope(scope)
        if not query.scopes:
            raise QueryError("name a scope for the budget: a team, KEY:VALUE or service:…", word=scope or "budget")
        return query

    # -- the month so far, and where it ends ----------------------------------------------------------------
    def _daily_totals(self, query: Query, start: date, end: date) -> dict[date, Decimal]:
        rows = self.queries.daily(self.scopes.spec(query, start, end), Grouping("column", "ChargeCategory"))
        totals: dict[date, Decimal] = defaultdict(lambda: ZERO)
        for r in rows:
            totals[r.day] += r.cost
        return dict(totals)

    def month(self, scope: str, drivers: bool = False) -> BudgetStatus:
        """Month to date through yesterday, the weekday-aware month-end forecast and the run-out day, against
        the scope's budget when it has one. The one forecast every surface shows."""
        query = self.scopes.scope(scope)
        budget = self.budget_for(scope)
        today = self.today()
        day = today - timedelta(days=1)
        first = day.replace(day=1)
        totals = self._daily_totals(query, min(first, day - timedelta(days=LOOKBACK_DAYS)), today)
        mtd = sum((v for d, v in totals.items() if first <= d <= day), ZERO)
        return BudgetStatus(scope=scope, month=first, day=day, budget=budget, month_to_date=mtd,
                            forecast=forecast_month_end(totals, day),
                            run_out=run_out_day(totals, day, budget) if budget else None,
                            currency=self.config.currency,
                            drivers=self._drivers(query, first, day) if drivers else ())

    def status(self, scope: str) -> BudgetStatus:
        """`/cost budget SCOPE`: the month against a budget (an error naming how to set one when there is none)."""
        self._scope(scope)
        if self.budget_for(scope) is None:
            raise QueryError(f"no budget for {scope}: an admin can set one with `/cost budget set {scope} AMOUNT`",
                             word=scope)
        return self.month(scope, drivers=True)

    def _drivers(self, query: Query, first: date, day: date) -> tuple[Change, ...]:
        """Services and resources that grew most this month against the same days of last month."""
        prev_first = (first - timedelta(days=1)).replace(day=1)
        span = (day - first).days + 1
        prev_end = min(prev_first + timedelta(days=span), first)
        out: list[Change] = []
        for dim, grouping in (("service", Grouping("column", "ServiceName")),
                              ("resource", Grouping("column", "ResourceId"))):
            now = dict(self.queries.groups(self.scopes.spec(query, first, day + timedelta(days=1)), grouping))
            before = dict(self.queries.groups(self.scopes.spec(query, prev_first, prev_end), grouping))
            for key in set(now) | set(before):
                if key != NONE_KEY:
                    out.append(Change(key, now.get(key, ZERO), before.get(key, ZERO), dimension=dim))
        out.sort(key=lambda c: (-c.change, c.dimension, c.key))
        top = [c for c in out[:3] if c.change > 0]
        resources = [c.key for c in top if c.dimension == "resource"]
        if resources:  # shown by name, not by id
            labels = resource_labels(resources, self.queries.resource_names())
            top = [replace(c, name=labels[c.key]) if c.dimension == "resource" else c for c in top]
        return tuple(top)

    # -- alerts and enforcement steps, once each ---------------------------------------------------------------
    def thresholds_for(self, scope: str) -> tuple[Threshold, ...]:
        """The alert thresholds; a team's enforcement rule sets where its warning (actual) alert fires."""
        rule = next((r for r in self.config.enforcement if r.scope == scope), None)
        if rule is None:
            return DEFAULT_THRESHOLDS
        kept = tuple(t for t in DEFAULT_THRESHOLDS if not (t.kind == "actual" and 50 < t.percent < 100))
        return tuple(sorted({*kept, Threshold("actual", rule.warn_percent)}, key=lambda t: (t.kind, t.percent)))

    def check_budgets(self) -> list[tuple[str, Threshold]]:
        """Post each crossed threshold once per scope and month; returns what was posted."""
        posted = []
        for scope in self.budgeted_scopes():
            try:
                status = self.status(scope)
            except QueryError as exc:
                log.warning("budget check for %s skipped: %s", scope, exc)
                continue
            channel = self.config.channel_for(scope)
            if not channel or self.notifier is None:
                continue
            for threshold in status.crossed(self.thresholds_for(scope)):
                if self.store.claim_budget_alert(scope, status.month.strftime("%Y-%m"), threshold.key):
                    self.notifier.post_budget_alert(channel, status, threshold)
                    posted.append((scope, threshold))
        return posted

    def claim_step(self, scope: str, month: date, step: str) -> bool:
        """True the one time an enforcement step is taken for a scope and month."""
        return self.store.claim_budget_alert(scope, month.strftime("%Y-%m"), step)

    # -- grounds of budget actions ------------------------------------------------------------------------
    def check_budget(self, scope: str, measure: str, percent: int) -> None:
        """Raises ActionNotAllowed unless `scope` is still at or over `percent` of its budget."""
        try:
            status = self.status(scope)
        except QueryError as exc:
            raise ActionNotAllowed(f"{scope} has no budget to enforce any more ({exc})") from None
        value = status.forecast_percent if measure == "forecast" else status.used_percent
        if value < percent:
            what = "forecast" if measure == "forecast" else "month to date"
            raise ActionNotAllowed(f"{scope}'s {what} is {value:.0f}% of its budget now, under the {percent}% "
                                   "that called for this")
