"""Anomalies: each team × service's daily spend against its robust baseline, found with the resources that
explain it, posted once to the team (the same cause within a week continues an anomaly), acknowledged from
Slack, and the grounds a Stop from an anomaly alert rests on."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from bot.config import CostbotConfig
from bot.domain.actions import ActionNotAllowed
from bot.domain.anomalies import (
    CONTINUES_DAYS,
    Anomaly,
    AnomalyFindings,
    AnomalyRules,
    Cause,
    continues,
    detect,
    explain,
)
from bot.domain.answers import resource_label
from bot.domain.errors import NoData, QueryError
from bot.domain.money import ZERO
from bot.domain.periods import resolve_period
from bot.domain.query import Query
from bot.domain.spec import KEY_SEPARATOR, NONE_KEY, ColumnIn, Condition, CostSpec, Grouping
from bot.ports import CostQueries, InsightNotifier, InsightStore
from bot.services.scopes import ScopeResolver

log = logging.getLogger("costbot.anomalies")
ANOMALY_CHECK = "anomalies"  # the name under which the alert job records how far it has looked
MAX_DAYS = 366  # an on-demand evaluation looks at most this many days


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
        return self.detect_days(day, day)

    def detect_days(self, first: date, last: date, query: Query | None = None) -> list[Anomaly]:
        """Anomalies on every day from `first` to `last` (in the scope of `query`), day by day, each with the
        resources that explain it: the one detection behind alerts and on-demand questions. One query for all
        the days' series, one per anomaly found for its causes."""
        rules = self.anomaly_rules()
        series = self.series(first - timedelta(days=rules.lookback_days), last + timedelta(days=1), query)
        out = []
        day = first
        while day <= last:
            for a in detect(series, day, rules):
                causes = explain(self._resource_series(a, day, rules.lookback_days, query), day, rules.lookback_days)
                owner = a.team if a.team in self.config.teams else None
                out.append(Anomaly(a.team, a.service, a.day, a.actual, a.baseline,
                                   tuple(Cause(c.resource_id, c.name, c.usage_type, c.actual, c.usual, owner)
                                         for c in causes)))
            day += timedelta(days=1)
        return out

    def _resource_series(self, a: Anomaly, day: date, lookback: int, query: Query | None = None
                         ) -> dict[tuple[str, str, str | None], dict[date, Decimal]]:
        conditions: list[Condition] = [ColumnIn("ServiceName", (a.service,))]
        if a.team in self.config.teams:
            conditions.insert(0, self.scopes.team_match(a.team))
        if query is not None:
            conditions += self.scopes.spec(query, day, day).conditions
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
        """The alert job: every day after the last one checked through the data's last day (the first time, the
        last `alert_horizon_days`), so that downtime or late billing data leaves no day unchecked. Each anomaly
        is kept once; a new one on a day within the horizon is posted to its team, an older one only kept (seen
        in `/cost anomalies`). With `day`, that one day is checked and its anomalies posted. Returns those
        posted."""
        today = self.today()
        horizon = today - timedelta(days=self.config.anomalies.alert_horizon_days)
        if day is not None:
            first = last = day
            horizon = min(horizon, day)
        else:
            through = self.queries.freshness()
            if through is None:
                return []
            checked = self.store.checked_through(ANOMALY_CHECK)
            first = checked + timedelta(days=1) if checked is not None else max(horizon, through - timedelta(
                days=self.config.anomalies.alert_horizon_days - 1))
            last = through
            if first > last:
                return []
        posted = []
        recent = self.store.anomalies(first - timedelta(days=CONTINUES_DAYS))
        for a in self.detect_days(first, last):
            ongoing = continues(a, recent)
            saved = self.store.save_anomaly(a, status="continued" if ongoing else "open")
            recent.append(a)
            if saved is None or ongoing or a.day < horizon:
                continue
            channel = self.config.channel_for(saved.team)
            if channel and self.notifier is not None and saved.id is not None:
                ch, ts = self.notifier.post_anomaly(channel, saved, self.actionable(saved))
                self.store.set_anomaly_message(saved.id, ch, ts)
            posted.append(saved)
        if day is None:
            self.store.set_checked_through(ANOMALY_CHECK, last)
        return posted

    def findings(self, scope: str = "", period_word: str = "last-30d") -> AnomalyFindings:
        """`/cost anomalies [SCOPE] [PERIOD]`: any past period evaluated now by the alerts' rules, with the same
        causes; an anomaly continuing an earlier one (same cause within a week) is not listed again; those that
        had an alert carry its id and whether it was acknowledged."""
        query = self.scopes.scope(scope)
        through = self.queries.freshness()
        if through is None:
            raise NoData("no billing data yet: run `costbot demo`, or `costbot ingest PATH` with FOCUS or CUR files")
        period = resolve_period(period_word, self.today(), through)
        if period.days > MAX_DAYS:
            raise QueryError(f"anomalies are looked for over at most {MAX_DAYS} days at a time", word=period_word)
        last = period.end - timedelta(days=1)
        known = {(a.team, a.service, a.day): a for a in self.store.anomalies(period.start)}
        earlier = [a for a in self.store.anomalies(period.start - timedelta(days=CONTINUES_DAYS))
                   if a.day < period.start]
        found: list[Anomaly] = []
        for a in self.detect_days(period.start, last, query):
            if continues(a, earlier):
                earlier.append(a)
                continue
            earlier.append(a)
            alert = known.get((a.team, a.service, a.day))
            found.append(replace(a, id=alert.id, status=alert.status) if alert is not None else a)
        found.sort(key=lambda a: (-a.day.toordinal(), -a.increase, a.team))
        return AnomalyFindings(query.scope_label(), period, tuple(found))

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
