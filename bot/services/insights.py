"""Budgets and anomalies: status, alerts posted once, anomalies with a named cause."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Protocol

from bot.config import CostbotConfig
from bot.domain.actions import ActionNotAllowed
from bot.domain.anomalies import Anomaly, AnomalyRules, detect, explain
from bot.domain.budgets import DEFAULT_THRESHOLDS, BudgetStatus, Threshold, forecast_month_end, run_out_day
from bot.domain.digest import Change
from bot.domain.errors import QueryError
from bot.domain.query import Query
from bot.domain.spec import KEY_SEPARATOR, ColumnIn, Condition, CostSpec, Grouping
from bot.services.costs import CostService

log = logging.getLogger("costbot.insights")
ZERO = Decimal(0)
CONTINUES_DAYS = 7  # an anomaly with the same cause within a week continues the earlier one: no new alert


class InsightNotifier(Protocol):
    def post_budget_alert(self, channel: str, status: BudgetStatus, threshold: Threshold) -> None: ...

    def post_anomaly(self, channel: str, anomaly: Anomaly, actionable: dict[str, str]) -> tuple[str, str]: ...

    def update_anomaly(self, channel: str, ts: str, anomaly: Anomaly, actionable: dict[str, str],
                       acknowledged_by: str | None) -> None: ...


class InsightService:
    def __init__(self, costs: CostService, config: CostbotConfig, store: Any, notifier: InsightNotifier | None,
                 today: Callable[[], date], resource_key: Callable[[str], str | None] = lambda rid: None) -> None:
        self.costs = costs
        self.config = config
        self.store = store
        self.notifier = notifier
        self.today = today
        self.resource_key = resource_key  # billing ResourceId -> a provider resource key, when actions can act

    # -- budgets ---------------------------------------------------------------------------------------
    def budget_for(self, scope: str) -> Decimal | None:
        overrides = self.store.budgets()
        if scope in overrides:
            return Decimal(overrides[scope])
        team = self.config.teams.get(scope)
        return team.budget.monthly if team and team.budget else None

    def budgeted_scopes(self) -> list[str]:
        scopes = [name for name, t in self.config.teams.items() if t.budget]
        return scopes + [s for s in self.store.budgets() if s not in scopes]

    def set_budget(self, scope: str, amount: Decimal, user: str) -> Decimal:
        if user not in self.config.admins:
            raise ActionNotAllowed("only admins can change budgets")
        self._scope(scope)
        if amount <= 0:
            raise QueryError("a budget must be a positive amount", word=str(amount))
        self.store.set_budget(scope, amount, user)
        return amount

    # -- grounds of budget and anomaly actions (ActionGrounds) ---------------------------------------------
    def check_budget(self, scope: str, measure: str, percent: int) -> None:
        try:
            status = self.status(scope)
        except QueryError as exc:
            raise ActionNotAllowed(f"{scope} has no budget to enforce any more ({exc})") from None
        value = status.forecast_percent if measure == "forecast" else status.used_percent
        if value < percent:
            what = "forecast" if measure == "forecast" else "month to date"
            raise ActionNotAllowed(f"{scope}'s {what} is {value:.0f}% of its budget now, under the {percent}% "
                                   "that called for this")

    def check_anomaly(self, anomaly_id: int, resource_key: str) -> str:
        anomaly = self.store.anomaly(anomaly_id)
        if anomaly is None:
            raise ActionNotAllowed("that anomaly is no longer known")
        if anomaly.status == "acknowledged":
            raise ActionNotAllowed(f"the {anomaly.service} anomaly of {anomaly.day:%b %d} was acknowledged as "
                                   "expected")
        if anomaly.day < self.today() - timedelta(days=CONTINUES_DAYS):
            raise ActionNotAllowed(f"the {anomaly.service} anomaly of {anomaly.day:%b %d} is over a week old")
        if resource_key not in self.actionable(anomaly).values():
            raise ActionNotAllowed("this resource is not among the anomaly's causes")
        return anomaly.team

    def _scope(self, scope: str) -> Query:
        parsed = self.costs.parse(scope)
        if not isinstance(parsed, Query) or parsed.by is not None or not parsed.scopes:
            raise QueryError(f"'{scope}' is not a scope (a team, KEY:VALUE, service:…)", word=scope)
        return parsed

    def _daily_totals(self, query: Query, start: date, end: date) -> dict[date, Decimal]:
        rows = self.costs.store.daily(self.costs.spec(query, start, end), Grouping("column", "ChargeCategory"))
        totals: dict[date, Decimal] = defaultdict(lambda: ZERO)
        for r in rows:
            totals[r.day] += r.cost
        return dict(totals)

    def status(self, scope: str) -> BudgetStatus:
        query = self._scope(scope)
        budget = self.budget_for(scope)
        if budget is None:
            raise QueryError(f"no budget for {scope}: an admin can set one with `/cost budget set {scope} AMOUNT`",
                             word=scope)
        today = self.today()
        day = today - timedelta(days=1)
        first = day.replace(day=1)
        totals = self._daily_totals(query, min(first, day - timedelta(days=35)), today)
        mtd = sum((v for d, v in totals.items() if first <= d <= day), ZERO)
        return BudgetStatus(scope=scope, month=first, day=day, budget=budget, month_to_date=mtd,
                            forecast=forecast_month_end(totals, day), run_out=run_out_day(totals, day, budget),
                            currency=self.config.currency, drivers=self._drivers(query, first, day))

    def _drivers(self, query: Query, first: date, day: date) -> tuple[Change, ...]:
        """Services and resources that grew most this month against the same days of last month."""
        prev_first = (first - timedelta(days=1)).replace(day=1)
        span = (day - first).days + 1
        prev_end = min(prev_first + timedelta(days=span), first)
        out: list[Change] = []
        for dim, grouping in (("service", Grouping("column", "ServiceName")),
                              ("resource", Grouping("column", "ResourceName"))):
            now = dict(self.costs.store.groups(self.costs.spec(query, first, day + timedelta(days=1)), grouping))
            before = dict(self.costs.store.groups(self.costs.spec(query, prev_first, prev_end), grouping))
            for key in set(now) | set(before):
                if key != "(none)":
                    out.append(Change(key, now.get(key, ZERO), before.get(key, ZERO), dimension=dim))
        out.sort(key=lambda c: (-c.change, c.dimension, c.key))
        return tuple(c for c in out[:3] if c.change > 0)

    def check_budgets(self) -> list[tuple[str, Threshold]]:
        """Post each crossed threshold once per scope and month; returns what was posted."""
        posted = []
        for scope in self.budgeted_scopes():
            try:
                status = self.status(scope)
            except QueryError as exc:
                log.warning("budget check for %s skipped: %s", scope, exc)
                continue
            team = self.config.teams.get(scope)
            channel = team.channel if team else self.config.owners_channel
            for threshold in status.crossed(DEFAULT_THRESHOLDS):
                if not channel or self.notifier is None:
                    continue
                if self.store.claim_budget_alert(scope, status.month.strftime("%Y-%m"), threshold.key):
                    self.notifier.post_budget_alert(channel, status, threshold)
                    posted.append((scope, threshold))
        return posted

    # -- anomalies -------------------------------------------------------------------------------------
    def anomaly_rules(self) -> AnomalyRules:
        cfg = self.config.anomalies
        return AnomalyRules(relative=cfg.relative_percent / 100, absolute=cfg.absolute_per_day)

    def series(self, start: date, end: date, query: Query | None = None) -> dict[tuple[str, str], dict[date, Decimal]]:
        grouping = Grouping("teams", self.config.grammar.team_tag_key, self.costs.team_rules(),
                            then=Grouping("column", "ServiceName"))
        spec = self.costs.spec(query or Query(), start, end)
        out: dict[tuple[str, str], dict[date, Decimal]] = defaultdict(dict)
        for r in self.costs.store.daily(spec, grouping):
            team, _, service = r.key.partition(KEY_SEPARATOR)
            out[(team, service)][r.day] = out[(team, service)].get(r.day, ZERO) + r.cost
        return dict(out)

    def find(self, day: date) -> list[Anomaly]:
        """Anomalies on `day` for every team × service, each with the resources that explain it."""
        rules = self.anomaly_rules()
        found = detect(self.series(day - timedelta(days=rules.lookback_days), day + timedelta(days=1)), day, rules)
        out = []
        for a in found:
            causes = explain(self._resource_series(a, day, rules.lookback_days), day, rules.lookback_days)
            owner = a.team if a.team in self.config.teams else None
            out.append(Anomaly(a.team, a.service, a.day, a.actual, a.baseline,
                               tuple(type(c)(c.resource_id, c.name, c.usage_type, c.actual, c.usual, owner)
                                     for c in causes)))
        return out

    def _resource_series(self, a: Anomaly, day: date, lookback: int) -> dict[tuple[str, str, str | None],
                                                                             dict[date, Decimal]]:
        conditions: list[Condition] = [ColumnIn("ServiceName", (a.service,))]
        if a.team in self.config.teams:
            conditions.insert(0, self.costs.team_match(a.team))
        spec = CostSpec(self.config.metric, day - timedelta(days=lookback), day + timedelta(days=1),
                        tuple(conditions), self.config.grammar.team_tag_key)
        grouping = Grouping("column", "ResourceId", then=Grouping("column", "ResourceName",
                                                                  then=Grouping("column", "x_UsageType")))
        out: dict[tuple[str, str, str | None], dict[date, Decimal]] = defaultdict(dict)
        for r in self.costs.store.daily(spec, grouping):
            rid, name, usage = ([*r.key.split(KEY_SEPARATOR), "", ""])[:3]
            key = (rid, name if name != "(none)" else rid, usage if usage != "(none)" else None)
            out[key][r.day] = out[key].get(r.day, ZERO) + r.cost
        return dict(out)

    def actionable(self, anomaly: Anomaly) -> dict[str, str]:
        """Billing resource id -> provider resource key, for causes the actions feature can stop."""
        out = {}
        for c in anomaly.causes:
            key = self.resource_key(c.resource_id)
            if key:
                out[c.resource_id] = key
        return out

    def check_anomalies(self, day: date | None = None) -> list[Anomaly]:
        """Find yesterday's anomalies; post each new one once to its team's channel."""
        day = day or self.today() - timedelta(days=1)
        posted = []
        recent = self.store.anomalies(day - timedelta(days=CONTINUES_DAYS))
        for a in self.find(day):
            ongoing = self._ongoing(a, recent)
            saved = self.store.save_anomaly(a, status="continued" if ongoing else "open")
            if saved is None or ongoing:
                continue
            team = self.config.teams.get(saved.team)
            channel = (team.channel if team else None) or self.config.owners_channel
            if channel and self.notifier is not None and saved.id is not None:
                ch, ts = self.notifier.post_anomaly(channel, saved, self.actionable(saved))
                self.store.set_anomaly_message(saved.id, ch, ts)
            posted.append(saved)
        return posted

    @staticmethod
    def _ongoing(a: Anomaly, recent: list[Anomaly]) -> bool:
        """The same team, service and leading cause within a week: the same anomaly going on, not a new one."""
        top = a.causes[0].resource_id if a.causes else None
        return any(r.team == a.team and r.service == a.service and r.day < a.day
                   and (r.causes[0].resource_id if r.causes else None) == top for r in recent)

    def recent(self, team: str | None = None, days: int = 30) -> list[Anomaly]:
        return [a for a in self.store.anomalies(self.today() - timedelta(days=days), team) if a.status != "continued"]

    def acknowledge(self, anomaly_id: int, user: str) -> Anomaly:
        found = self.store.acknowledge(anomaly_id, user)
        if found is None:
            raise ActionNotAllowed(f"there is no anomaly {anomaly_id}")
        anomaly, channel, ts = found
        if self.notifier is not None and channel and ts:
            self.notifier.update_anomaly(channel, ts, anomaly, self.actionable(anomaly), user)
        return anomaly
