"""Answering cost questions: text or Query in, CostAnswer out. Knows the config, not the storage engine."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

from bot.config import CostbotConfig
from bot.domain.answers import ChartSeries, CostAnswer, Group, bucket_start, bucket_starts, chart_bucket
from bot.domain.errors import NoData, QueryError, UnknownScope
from bot.domain.money import ZERO
from bot.domain.overview import TeamOverview
from bot.domain.periods import resolve_period
from bot.domain.query import Command, Dimension, HelpRequest, Query, Scope, parse_query
from bot.domain.spec import OTHER, ColumnIn, Condition, CostSpec, Grouping, TagMissing, TagsMatch, TeamRule
from bot.ports import CostStore

CHART_STACKS = 6


class CostService:
    """The `ask` use case, shared by the CLI, Slack and the scheduler."""

    def __init__(self, store: CostStore, config: CostbotConfig, today: Callable[[], date]) -> None:
        self.store = store
        self.config = config
        self.today = today

    def parse(self, text: str) -> Query | Command:
        return parse_query(text, self.config.grammar)

    # -- resolution ----------------------------------------------------------------------------------
    def team_match(self, team: str) -> TagsMatch:
        return TagsMatch(tuple(sorted(self.config.team_tags(team).items())))

    def team_rules(self) -> tuple[TeamRule, ...]:
        return tuple(TeamRule(name, self.team_match(name)) for name in self.config.teams)

    def _service_names(self, value: str) -> tuple[str, ...]:
        names = self.store.distinct_values("ServiceName")
        exact = [n for n in names if n.lower() == value.lower()]
        if exact:
            return tuple(exact)
        partial = [n for n in names if value.lower() in n.lower()]
        if len(partial) == 1:
            return (partial[0],)
        if len(partial) > 1:
            shown = ", ".join(partial[:5]) + (" …" if len(partial) > 5 else "")
            raise UnknownScope(f"service:{value} matches several services: {shown}. Quote a longer part, "
                               f'e.g. service:"{partial[0]}"', word=f"service:{value}")
        raise UnknownScope(f"no service matches '{value}' in the billing data", word=f"service:{value}")

    def condition(self, scope: Scope) -> Condition:
        if scope.kind == "team":
            return self.team_match(str(scope.key))
        if scope.kind == "untagged":
            return TagMissing(self.config.grammar.team_tag_key)
        if scope.kind == "tag":
            return TagsMatch(((str(scope.key), str(scope.value)),))
        if scope.kind == "service":
            return ColumnIn("ServiceName", self._service_names(str(scope.value)))
        column = {"account": "SubAccountId", "region": "RegionId", "resource": "ResourceId"}[scope.kind]
        return ColumnIn(column, (str(scope.value),))

    def grouping(self, query: Query) -> Grouping | None:
        dim = query.by
        if dim is None:
            return None
        if dim.kind == "team":
            return Grouping("teams", dim.target, self.team_rules())
        return Grouping(dim.kind, dim.target)

    def spec(self, query: Query, start: date, end: date) -> CostSpec:
        metric = "BilledCost" if query.billed else self.config.metric
        conditions = tuple(self.condition(s) for s in query.scopes)
        return CostSpec(metric, start, end, conditions, self.config.grammar.team_tag_key)

    def scope_dict(self, query: Query, spec: CostSpec) -> dict[str, object]:
        out: dict[str, object] = {}
        for scope, cond in zip(query.scopes, spec.conditions, strict=True):
            if scope.kind == "team":
                out["team"] = scope.key
            elif scope.kind == "untagged":
                out["untagged"] = True
            elif scope.kind == "tag":
                out[str(scope.key)] = scope.value
            elif isinstance(cond, ColumnIn):
                out[scope.kind] = cond.values[0] if len(cond.values) == 1 else list(cond.values)
        return out

    # -- answers -------------------------------------------------------------------------------------
    def answer(self, query: Query) -> CostAnswer:
        data_through = self.store.freshness()
        if data_through is None:
            raise NoData("no billing data yet: run `costbot demo`, or `costbot ingest PATH` with FOCUS or CUR files")
        period = resolve_period(query.period, self.today())
        spec = self.spec(query, period.start, period.end)
        totals = self.store.totals(spec, (period.previous_start, period.previous_end))
        groups: tuple[Group, ...] = ()
        grouping = self.grouping(query)
        if grouping is not None:
            rows = self.store.groups(spec, grouping)  # largest first
            groups = tuple(Group(k, c) for k, c in rows)
            if query.top is not None and len(groups) > query.top:
                rest = sum((g.cost for g in groups[query.top:]), ZERO)
                groups = (*groups[: query.top], Group(OTHER, rest))
        return CostAnswer(
            query=query,
            scope=self.scope_dict(query, spec),
            period=period,
            metric=spec.metric,
            currency=self.config.currency,
            total=totals.current,
            previous_total=totals.previous,
            untagged_cost=totals.untagged,
            groups=groups,
            dimension=query.by.name if query.by else None,
            data_through=data_through,
        )

    def ask(self, text: str) -> CostAnswer | HelpRequest:
        parsed = self.parse(text)
        if isinstance(parsed, HelpRequest):
            return parsed
        if not isinstance(parsed, Query):
            word = type(parsed).__name__.removesuffix("Command").lower()
            cli = {"digest": "costbot digest SCOPE", "idle": "costbot scan", "audit": "costbot audit",
                   "budget": "costbot budgets", "anomalies": "costbot budgets --anomalies",
                   "tags": "costbot tags report"}.get(word)
            raise QueryError(f"`{word} …` is a Slack command; in a terminal use `{cli}`", word=word)
        return self.answer(parsed)

    def team_overview(self, team: str) -> TeamOverview:
        """Month to date against the budget, a linear month-end forecast and the top services."""
        today = self.today()
        first = today.replace(day=1)
        query = Query(scopes=(Scope("team", team),), period="mtd",
                      by=Dimension("service", "column", "ServiceName"), top=3)
        answer = self.answer(query)
        next_month = (first + timedelta(days=32)).replace(day=1)
        elapsed = (today - first).days  # complete days with data (today is partial)
        forecast = None
        if elapsed > 0:
            mtd_complete = self.store.totals(self.spec(query, first, today), (first, first)).current
            forecast = mtd_complete / elapsed * (next_month - first).days
        budget_cfg = self.config.teams[team].budget
        return TeamOverview(
            team=team,
            currency=self.config.currency,
            month_to_date=answer.total,
            budget=budget_cfg.monthly if budget_cfg else None,
            forecast=forecast,
            top_services=tuple(g for g in answer.groups if g.key != OTHER),
        )

    def chart_series(self, answer: CostAnswer) -> ChartSeries:
        """Spend for the answer's scope and period, stacked by its dimension (or by service): daily bars, or
        weekly / monthly ones when the days with data span too long for daily bars to be read."""
        query = answer.query
        grouping = self.grouping(query)
        if grouping is None or grouping.kind == "time":
            grouping = Grouping("column", "ServiceName")
        spec = self.spec(query, answer.period.start, answer.period.end)
        rows = self.store.daily(spec, grouping)
        totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for r in rows:
            totals[r.key] += r.cost
        ranked = sorted(totals, key=lambda k: (-totals[k], k))
        keep = ranked[:CHART_STACKS]
        keys = (*keep, OTHER) if len(ranked) > CHART_STACKS else tuple(keep)
        first = min((r.day for r in rows), default=answer.period.start)
        last = max((r.day for r in rows), default=answer.period.start)
        bucket = chart_bucket((last - first).days + 1)
        days = bucket_starts(first, last, bucket)
        index = {d: i for i, d in enumerate(days)}
        values = {k: [ZERO] * len(days) for k in keys}
        for r in rows:
            slot = index.get(bucket_start(r.day, bucket))
            if slot is None:
                continue
            values[r.key if r.key in keep else OTHER][slot] += r.cost
        title = f"{answer.scope_label} · {answer.period.describe()}"
        return ChartSeries(title, answer.currency, days, keys, {k: tuple(v) for k, v in values.items()}, bucket)
