"""Anomalies: each team × service's daily spend against its robust baseline, found with the resources that
explain it, posted once to the team (the same cause within a week continues an anomaly), acknowledged from
Slack, and the grounds a Stop from an anomaly alert rests on."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

from bot.config import CostbotConfig
from bot.domain.actions import ActionNotAllowed
from bot.domain.anomalies import Anomaly, AnomalyRules, Cause, detect, explain
from bot.domain.answers import resource_label
from bot.domain.money import ZERO
from bot.domain.query import Query
from bot.domain.spec import KEY_SEPARATOR, NONE_KEY, ColumnIn, Condition, CostSpec, Grouping
from bot.ports import CostQueries, InsightNotifier, InsightStore
from bot.services.scopes import ScopeResolver

log = logging.getLogger("costbot.anomalies")
CONTINUES_DAYS = 7  # an anomaly with the same cause within a week continues the earlier one: no new alert


class AnomalyService:
    def __init__(self, queries: CostQueries, scopes: ScopeResolver, config: CostbotConfig, store: InsightStore,
                 notifier: InsightNotifier | None, today: Callable[[], date],
                 resource_key: Callable[[str], str | None] = lambda rid: None) -> None:
        self.queries = queries
        self.scopes = scopes
        self.config = config
        self.store = store
        self.notifier = notifier
        self.today = today
        self.resource_key = resource_key  # billing ResourceId -> a provider resource key, when actions can act

    def anomaly_rules(self) -> AnomalyRules:
        cfg = self.config.anomalies
        return AnomalyRules(relative=cfg.relative_percent / 100, absolute=cfg.absolute_per_day)

    def series(self, start: date, end: date, query: Query | None = None) -> dict[tuple[str, str], dict[date, Decimal]]:
        grouping = self.scopes.team_grouping(then=Grouping("column", "ServiceName"))
        spec = self.scopes.spec(query or Query(), start, end)
        out: dict[tuple[str, str], dict[date, Decimal]] = defaultdict(dict)
        for r in self.queries.daily(spec, grouping):
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
                               tuple(Cause(c.resource_id, c.name, c.usage_type, c.actual, c.usual, owner)
                                     for c in causes)))
        return out

    def _resource_series(self, a: Anomaly, day: date, lookback: int) -> dict[tuple[str, str, str | None],
                                                                             dict[date, Decimal]]:
        conditions: list[Condition] = [ColumnIn("ServiceName", (a.service,))]
        if a.team in self.config.teams:
            conditions.insert(0, self.scopes.team_match(a.team))
        spec = CostSpec(self.config.metric, day - timedelta(days=lookback), day + timedelta(days=1),
                        tuple(conditions), self.config.grammar.team_tag_key)
        grouping = Grouping("column", "ResourceId", then=Grouping("column", "ResourceName",
                                                                  then=Grouping("column", "x_UsageType")))
        out: dict[tuple[str, str, str | None], dict[date, Decimal]] = defaultdict(dict)
        for r in self.queries.daily(spec, grouping):
            rid, name, usage = ([*r.key.split(KEY_SEPARATOR), "", ""])[:3]
            key = (rid, resource_label(rid, name), usage if usage != NONE_KEY else None)
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
            channel = self.config.channel_for(saved.team)
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

    def anomaly(self, anomaly_id: int) -> Anomaly | None:
        return self.store.anomaly(anomaly_id)

    # -- grounds of a Stop from an anomaly alert ---------------------------------------------------------------
    def check_anomaly(self, anomaly_id: int, resource_key: str) -> str:
        """Raises ActionNotAllowed unless the anomaly is still open (not acknowledged as expected), at most a
        week old, and names this resource among its causes; returns its team."""
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
