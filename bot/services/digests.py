"""Digests: build a team's daily or weekly summary, manage subscriptions, post each digest exactly once."""

from __future__ import annotations

import calendar
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.config import CostbotConfig, unreadable_cron
from bot.domain.actions import ActionNotAllowed
from bot.domain.answers import resource_labels, top_keys
from bot.domain.changes import Change
from bot.domain.digest import Digest, DigestChart
from bot.domain.errors import QueryError
from bot.domain.money import ZERO
from bot.domain.query import Query
from bot.domain.spec import NONE_KEY, OTHER, UNTAGGED, Grouping
from bot.domain.subscriptions import Subscription, cadence_to_cron
from bot.ports import CostQueries, DigestPublisher, SubscriptionStore
from bot.services.actions import ActionService
from bot.services.anomalies import AnomalyService
from bot.services.budgets import BudgetService
from bot.services.compliance import ComplianceService
from bot.services.scopes import ScopeResolver

log = logging.getLogger("costbot.digests")

CHART_DAYS = 30
CHART_STACKS = 5
MOVERS = 3


def _mean(values: list[Decimal]) -> Decimal:
    return sum(values, ZERO) / len(values) if values else ZERO


class DigestBuilder:
    """Computes digests from the cost store: its figures through the scope resolver, the budget and forecast
    from the budget service, savings waiting and anomalies from the actions and anomaly services."""

    def __init__(self, queries: CostQueries, scopes: ScopeResolver, budgets: BudgetService,
                 compliance: ComplianceService, anomalies: AnomalyService, actions: ActionService,
                 config: CostbotConfig, today: Callable[[], date],
                 schedule_savings: Callable[[datetime, datetime, str | None], Decimal] | None = None) -> None:
        self.queries = queries
        self.schedule_savings = schedule_savings  # what off-hours schedules saved over a period (a team's, or all)
        self.scopes = scopes
        self.budgets = budgets
        self.compliance = compliance
        self.anomalies = anomalies
        self.actions = actions
        self.config = config
        self.today = today

    def scope_query(self, scope: str) -> Query:
        return self.scopes.scope(scope)

    def _daily(self, query: Query, start: date, end: date, grouping: Grouping) -> dict[date, dict[str, Decimal]]:
        rows = self.queries.daily(self.scopes.spec(query, start, end), grouping)
        out: dict[date, dict[str, Decimal]] = defaultdict(dict)
        for r in rows:
            out[r.day][r.key] = out[r.day].get(r.key, ZERO) + r.cost
        return out

    def build(self, scope: str, cadence: str = "daily") -> Digest:
        query = self.scope_query(scope)
        today = self.today()
        through = self.queries.freshness()
        day = min(today - timedelta(days=1), through or today)  # the last complete day the data holds
        label = query.scope_label()
        stack_dim = "project" if query.scopes and query.scopes[0].kind == "team" else "service"
        stack = (Grouping("tag", self.config.grammar.tag_key_for("project")) if stack_dim == "project"
                 else Grouping("column", "ServiceName"))
        first = day.replace(day=1)
        start = min(first, day - timedelta(days=CHART_DAYS + 7))  # the moving average looks back a week
        daily = self._daily(query, start, today, stack)
        totals = {d: sum(v.values(), ZERO) for d, v in daily.items()}

        def total_on(d: date) -> Decimal:
            return totals.get(d, ZERO)

        month = self.budgets.month(scope)
        mtd_totals = self.queries.totals(self.scopes.spec(query, first, today), (first, first))
        team = self.scopes.single_team(query)
        whole_team = team is not None or not query.scopes  # a team's digest, or the organization's
        recent = self.anomalies.recent(team, days=CHART_DAYS) if whole_team else []
        chart = self._chart(label, daily, totals, day, month.budget, tuple(a.day for a in recent))
        open_count, savings = self.actions.open_savings(team) if whole_team else (0, ZERO)
        digest = Digest(
            scope_label=label, cadence=cadence, currency=self.config.currency, day=day,
            yesterday=total_on(day),
            average_7d=_mean([total_on(day - timedelta(days=i)) for i in range(1, 8)]),
            same_weekday_last_week=total_on(day - timedelta(days=7)),
            month_to_date=month.month_to_date, budget=month.budget, forecast=month.forecast,
            movers=self._movers(query, day),
            untagged_share=(mtd_totals.untagged / mtd_totals.current * 100) if mtd_totals.current else None,
            shared_clusters=self._shared_clusters(query, first, today),
            savings_waiting=savings if open_count else None,
            anomalies=tuple(a for a in recent if a.day >= day - timedelta(days=6)),
            chart=chart, data_through=through,
        )
        if cadence == "weekly":
            weekly = self._weekly(digest, query, today)
            return self._schedule_week(weekly, team) if whole_team else weekly
        return digest

    def _schedule_week(self, digest: Digest, team: str | None) -> Digest:
        """The week's off-hours savings (hours off × each resource's hourly cost), Monday to Monday in the config's
        time zone."""
        if self.schedule_savings is None or not self.config.schedules or digest.week_start is None:
            return digest
        zone = ZoneInfo(self.config.timezone)
        since = datetime.combine(digest.week_start, time(), tzinfo=zone)
        amount = self.schedule_savings(since, since + timedelta(days=7), team)
        return replace(digest, schedule_savings=amount if amount > 0 else None)

    def _shared_clusters(self, query: Query, first: date, today: date) -> tuple[tuple[str, Decimal], ...]:
        """The scope's month to date on shared Kubernetes clusters, by cluster: the part of its spend the bill split
        off shared nodes (allocated charges, pods' split cost)."""
        rows = self.queries.groups(self.scopes.spec(query, first, today), Grouping("column", "x_Cluster"))
        return tuple((key, cost) for key, cost in rows if key != NONE_KEY and cost)

    def _movers(self, query: Query, day: date) -> tuple[Change, ...]:
        dims = {
            "service": Grouping("column", "ServiceName"),
            "project": Grouping("tag", self.config.grammar.tag_key_for("project")),
            "resource": Grouping("column", "ResourceId"),
        }
        movers: list[Change] = []
        for name, grouping in dims.items():
            daily = self._daily(query, day - timedelta(days=7), day + timedelta(days=1), grouping)
            keys = {k for v in daily.values() for k in v}
            for key in keys:
                if key in (UNTAGGED, NONE_KEY):
                    continue
                current = daily.get(day, {}).get(key, ZERO)
                baseline = _mean([daily.get(day - timedelta(days=i), {}).get(key, ZERO) for i in range(1, 8)])
                movers.append(Change(key, current, baseline, dimension=name))
        movers.sort(key=lambda m: (-abs(m.change), m.dimension, m.key))
        top = [m for m in movers[:MOVERS] if m.change != 0]
        resources = [m.key for m in top if m.dimension == "resource"]
        if resources:  # shown by name, not by id
            labels = resource_labels(resources, self.queries.resource_names())
            top = [replace(m, name=labels[m.key]) if m.dimension == "resource" else m for m in top]
        return tuple(top)

    def _chart(self, label: str, daily: dict[date, dict[str, Decimal]], totals: dict[date, Decimal], day: date,
               budget: Decimal | None, anomaly_days: tuple[date, ...] = ()) -> DigestChart:
        days = tuple(day - timedelta(days=CHART_DAYS - 1 - i) for i in range(CHART_DAYS))
        key_totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for d in days:
            for k, v in daily.get(d, {}).items():
                key_totals[k] += v
        keep, keys = top_keys(key_totals, CHART_STACKS)
        values = {k: [ZERO] * len(days) for k in keys}
        for i, d in enumerate(days):
            for k, v in daily.get(d, {}).items():
                values[k if k in keep else OTHER][i] += v
        moving: list[Decimal | None] = []
        for d in days:
            window = [totals.get(d - timedelta(days=j), ZERO) for j in range(7)]
            moving.append(_mean(window))
        per_day = budget / calendar.monthrange(day.year, day.month)[1] if budget else None
        return DigestChart(
            title=f"{label} · daily spend, last {CHART_DAYS} days", currency=self.config.currency, days=days,
            keys=keys, values={k: tuple(v) for k, v in values.items()}, moving_average=tuple(moving),
            budget_per_day=per_day, anomaly_days=tuple(d for d in anomaly_days if d in days),
            metric=self.config.metric, data_through=self.queries.freshness(),
        )

    def _weekly(self, digest: Digest, query: Query, today: date) -> Digest:
        monday = today - timedelta(days=today.weekday())
        start, prev = monday - timedelta(days=7), monday - timedelta(days=14)
        spec = self.scopes.spec(query, start, monday)
        totals = self.queries.totals(spec, (prev, start))

        def changes(dimension: str) -> tuple[Change, ...]:
            grouping = Grouping("tag", self.config.grammar.tag_key_for(dimension))
            now = dict(self.queries.groups(spec, grouping))
            before = dict(self.queries.groups(self.scopes.spec(query, prev, start), grouping))
            keys = sorted(set(now) | set(before), key=lambda k: (-(now.get(k, ZERO)), k))
            return tuple(Change(k, now.get(k, ZERO), before.get(k, ZERO)) for k in keys)

        compliance = self.compliance.report("last-week", query)  # the digest's scope, not the organization
        top = self.config.experiments.digest_top
        experiments = tuple(c for c in changes("experiment") if c.key not in (UNTAGGED, NONE_KEY) and c.current > 0)
        return replace(digest, cadence="weekly", week_start=start, week_total=totals.current, compliance=compliance,
                       previous_week_total=totals.previous, by_project=changes("project"),
                       by_model=changes("model"), experiments=experiments[:top])


class DigestService:
    """Subscriptions and delivery. Posting goes through a DigestPublisher; the state store keeps it once."""

    def __init__(self, builder: DigestBuilder, store: SubscriptionStore, publisher: DigestPublisher | None,
                 config: CostbotConfig) -> None:
        self.builder = builder
        self.store = store
        self.publisher = publisher
        self.config = config

    # -- subscriptions ---------------------------------------------------------------------------------
    def subscribe(self, channel: str, scope: str, when: list[str], user: str | None,
                  timezone: str | None = None) -> Subscription:
        """Subscribe `channel` on the operator's authority (no membership check: Slack goes through
        `subscribe_as`). The scope and the schedule are checked now, not at 9 am tomorrow."""
        if not channel:
            raise QueryError("a digest needs a channel to post to")
        self.builder.scope_query(scope)
        cadence, cron = cadence_to_cron(when or ["daily"])
        problem = unreadable_cron(cron)
        if problem is not None:
            raise QueryError(problem, word=cron)
        sub = Subscription(channel=channel, scope=scope, cadence=cadence, cron=cron,
                           timezone=timezone or self.config.timezone, origin="slack", created_by=user)
        return self.store.upsert_subscription(sub)

    def unsubscribe(self, channel: str, scope: str) -> Subscription | None:
        return self.store.remove_subscription(channel, scope)

    def subscribe_as(self, user: str, channel: str, scope: str, when: list[str]) -> Subscription:
        """A user subscribes the channel they typed the command in, if they may (see `authorize`)."""
        self.authorize(user, self.builder.scope_query(scope), "subscribe a channel to")
        return self.subscribe(channel, scope, when, user)

    def unsubscribe_as(self, user: str, channel: str, scope: str) -> Subscription | None:
        """The same rule as subscribing. A scope that no longer parses (a team removed from the config) names
        no configured team, so any team member may remove it."""
        try:
            query: Query | None = self.builder.scope_query(scope)
        except QueryError:
            query = None
        self.authorize(user, query, "unsubscribe a channel from")
        return self.unsubscribe(channel, scope)

    def teams_in(self, query: Query) -> list[str]:
        """The configured teams a scope covers: team scopes, and tag scopes that are one of a team's own tags
        (`team:ml` is team-ml's spend under another name)."""
        found: list[str] = []
        for scope in query.scopes:
            if scope.kind == "team":
                found.append(str(scope.key))
            elif scope.kind == "tag":
                key, value = str(scope.key).lower(), str(scope.value).lower()
                found += [name for name in self.config.teams
                          if any(k.lower() == key and v.lower() == value
                                 for k, v in self.config.team_tags(name).items())]
        return list(dict.fromkeys(found))

    def authorize(self, user: str, query: Query | None, doing: str) -> None:
        """Who may subscribe (and unsubscribe) which digests: admins anything; a scope that covers teams only
        members and approvers of every one of them; other scopes (`project:fraud`, `service:…`) anyone who
        belongs to at least one team. Raises ActionNotAllowed."""
        if user in self.config.admins:
            return
        mine = set(self.config.teams_of(user))
        teams = self.teams_in(query) if query is not None else []
        foreign = [t for t in teams if t not in mine]
        if foreign:
            raise ActionNotAllowed(f"only members and approvers of {', '.join(foreign)} (or an admin) can {doing} "
                                   f"its digest")
        if not mine:
            raise ActionNotAllowed(f"only members of a team (or an admin) can {doing} a digest")

    def subscriptions(self, channel: str | None = None) -> list[Subscription]:
        return self.store.subscriptions(channel)

    def subscription(self, subscription_id: int) -> Subscription | None:
        return self.store.subscription(subscription_id)

    def run_status(self, subscription_id: int, run_key: str) -> tuple[str, int] | None:
        """(posted | running | failed, attempts) of one scheduled digest, or None when it never ran."""
        return self.store.run_status(subscription_id, run_key)

    def sync_config(self) -> list[Subscription]:
        """Subscriptions declared in config (`teams.*.digest`) are kept in the state store."""
        keep: set[tuple[str, str]] = set()
        subs = []
        for name, team in self.config.teams.items():
            if team.digest is None or not team.channel:
                continue
            channel = team.channel
            sub = Subscription(channel=channel, scope=name, cadence="cron", cron=team.digest.schedule,
                               timezone=self.config.timezone, origin="config")
            subs.append(self.store.upsert_subscription(sub))
            keep.add((channel, name))
        self.store.remove_config_subscriptions_except(keep)
        return subs

    # -- delivery --------------------------------------------------------------------------------------
    def cadence_of(self, sub: Subscription) -> str:
        if sub.cadence == "weekly":
            return "weekly"
        return "daily"

    def build(self, scope: str, cadence: str = "daily") -> Digest:
        """A digest now, without posting it (`costbot digest --preview`)."""
        return self.builder.build(scope, cadence)

    def post_now_as(self, user: str, channel: str, scope: str, cadence: str = "daily") -> None:
        """`digest now` from Slack: the same people who may subscribe a scope may post its digest."""
        self.authorize(user, self.builder.scope_query(scope) if scope else None, "post")
        self.post_now(channel, scope, cadence)

    def post_now(self, channel: str, scope: str, cadence: str = "daily") -> None:
        if self.publisher is None:
            raise QueryError("Slack is not configured (SLACK_BOT_TOKEN)")
        digest = self.builder.build(scope, cadence)
        self.publisher.publish(channel, digest)

    def run(self, subscription_id: int, run_key: str) -> str:
        """Post one scheduled digest once: 'posted', 'skipped' (already posted / gone) or raises after
        recording the failure (the scheduler retries with backoff)."""
        sub = self.store.subscription(subscription_id)
        if sub is None:
            return "skipped"
        if not self.store.claim_run(subscription_id, run_key):
            log.info("digest %s for %s already handled", run_key, sub.describe())
            return "skipped"
        try:
            self.post_now(sub.channel, sub.scope, self.cadence_of(sub))
        except Exception as exc:
            attempts = self.store.finish_run(subscription_id, run_key, ok=False, error=str(exc))
            log.warning("digest %s for %s failed (attempt %d): %s", run_key, sub.describe(), attempts, exc)
            raise
        self.store.finish_run(subscription_id, run_key, ok=True)
        return "posted"


def run_key_for(when: datetime) -> str:
    return when.astimezone().replace(microsecond=0).isoformat()
