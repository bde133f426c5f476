"""Answering cost questions: text or Query in, CostAnswer out (shared costs allocated where the question is
about teams), and the chart series of an answer. Knows the config and the query port, not the engine."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from bot.config import CostbotConfig
from bot.domain.answers import (
    DAILY_BARS,
    ChartSeries,
    CostAnswer,
    Group,
    bucket_end,
    bucket_start,
    bucket_starts,
    chart_bucket,
    drivers_and_movers,
    resource_labels,
    top_groups,
    top_keys,
)
from bot.domain.errors import NoData
from bot.domain.money import ZERO
from bot.domain.periods import resolve_period
from bot.domain.query import Command, Query
from bot.domain.spec import OTHER, CostSpec, Grouping
from bot.ports import CostQueries
from bot.services.allocation import AllocationService
from bot.services.scopes import ScopeResolver

CHART_STACKS = 6  # a chart's stacks without `top N`
MAX_CHART_STACKS = 9  # with it: one colour of the palette each (bot/render/charts.py)


class AnswerService:
    """The `ask` use case, shared by the CLI, Slack and the scheduler."""

    def __init__(self, queries: CostQueries, scopes: ScopeResolver, allocation: AllocationService,
                 config: CostbotConfig, today: Callable[[], date]) -> None:
        self.queries = queries
        self.scopes = scopes
        self.allocation = allocation
        self.config = config
        self.today = today

    def parse(self, text: str) -> Query | Command:
        return self.scopes.parse(text)

    def data_through(self) -> date | None:
        """The last day the store holds billing data for."""
        return self.queries.freshness()

    def answer(self, query: Query, asked_on: date | None = None) -> CostAnswer:
        """The answer up to the data's last complete day: a period that runs past it is cut there and compared
        with the same span of its comparison period; a comparison period the store only partly holds is flagged
        (`previous_coverage`); a question that finds nothing says why when a word names nothing in the data.
        Relative periods ("last-week") are resolved against `asked_on` (a button's question is answered for
        the day it was asked), else today."""
        data_through = self.queries.freshness()
        if data_through is None:
            raise NoData("no billing data yet: run `costbot demo`, or `costbot ingest PATH` with FOCUS or CUR files")
        first_day = self.queries.first_day() or data_through
        asked_on = asked_on or self.today()
        period = resolve_period(query.period, asked_on, data_through)
        spec = self.scopes.spec(query, period.start, period.end)
        totals = self.queries.totals(spec, (period.previous_start, period.previous_end))
        groups: tuple[Group, ...] = ()
        grouping = self.scopes.grouping(query)
        if grouping is not None:
            rows = self.queries.groups(spec, grouping, query.top)  # largest first
            groups = self._named(top_groups([Group(k, c) for k, c in rows], query.top), query)
        answer = CostAnswer(
            query=query,
            scope=self.scopes.scope_dict(query, spec),
            period=period,
            metric=spec.metric,
            currency=self.config.currency,
            total=totals.current,
            previous_total=totals.previous,
            untagged_cost=totals.untagged,
            groups=groups,
            dimension=query.by.name if query.by else None,
            data_through=data_through,
            untagged_applies=self.untagged_applies(query),
            asked_on=asked_on,
            coverage=period.coverage(first_day, data_through),
            previous_coverage=period.previous_coverage(first_day, data_through),
        )
        answer = self.allocation.apply(answer)
        if answer.total == 0 and answer.previous_total == 0:  # nothing found: a word that names nothing says so
            self.scopes.explain_nothing(query, first_day, data_through, spec.metric)
        return self._explained(answer, spec) if query.by is None else answer

    def untagged_applies(self, query: Query) -> bool:
        """Whether an untagged share means anything for the scope: not for a team (0 % by definition) nor for
        `untagged` or a team-tag scope (0 or 100 %)."""
        team_key = self.config.grammar.team_tag_key.lower()
        return not any(s.kind in ("team", "untagged") or (s.kind == "tag" and str(s.key).lower() == team_key)
                       for s in query.scopes)

    def drivers_dimension(self, query: Query) -> str:
        """What explains a total best: teams for the organization (or a service), services for anything else."""
        kinds = {s.kind for s in query.scopes}
        return "team" if self.config.teams and kinds <= {"service"} else "service"

    def _explained(self, answer: CostAnswer, spec: CostSpec) -> CostAnswer:
        """An answer without `by`, with its largest parts and the parts that moved most since the previous period
        (when there are at least two parts to tell apart)."""
        dimension = self.drivers_dimension(answer.query)
        grouping = self.scopes.team_grouping() if dimension == "team" else Grouping("column", "ServiceName")
        period = answer.period
        # one query for both periods (one more round trip on a remote engine such as Athena, not two)
        rows = self.queries.daily(spec.with_range(period.previous_start, period.end), grouping)
        now: dict[str, Decimal] = defaultdict(lambda: ZERO)
        before: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for r in rows:
            if period.start <= r.day < period.end:
                now[r.key] += r.cost
            elif period.previous_start <= r.day < period.previous_end:
                before[r.key] += r.cost
        if max(len([c for c in now.values() if c]), len([c for c in before.values() if c])) < 2:
            return answer
        drivers, movers = drivers_and_movers(list(now.items()), list(before.items()), dimension)
        return replace(answer, drivers=drivers, drivers_by=dimension, movers=movers)

    def _named(self, groups: tuple[Group, ...], query: Query) -> tuple[Group, ...]:
        """`by resource`: each group keeps the id as its key and carries the name people read."""
        if query.by is None or query.by.name != "resource":
            return groups
        labels = resource_labels((g.key for g in groups), self.queries.resource_names())
        return tuple(replace(g, name=labels[g.key]) for g in groups)

    def chart_series(self, answer: CostAnswer) -> ChartSeries:
        """Spend for the answer's scope and period, stacked by its dimension (or by service): daily bars, or
        weekly / monthly ones when the days with data span too long for daily bars to be read. Keys that add up
        to nothing are left out; `top N` sets how many keys are drawn (up to MAX_CHART_STACKS)."""
        query = answer.query
        grouping = self.scopes.grouping(query)
        if grouping is None or grouping.kind == "time":
            grouping = Grouping("column", "ServiceName")
        spec = self.scopes.spec(query, answer.period.start, answer.period.end)
        rows = self.queries.daily(spec, grouping)
        totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for r in rows:
            totals[r.key] += r.cost
        drawn = {k: v for k, v in totals.items() if v != 0}  # a key that adds up to nothing draws nothing
        keep, keys = top_keys(drawn, min(query.top or CHART_STACKS, MAX_CHART_STACKS))
        rows = [r for r in rows if r.key in drawn]
        period_last = answer.period.end - timedelta(days=1)
        if answer.period.days <= DAILY_BARS:  # the whole period, up to the last day with data
            first, last = answer.period.start, min(period_last, answer.data_through or period_last)
        else:
            first = min((r.day for r in rows), default=answer.period.start)
            last = max((r.day for r in rows), default=answer.period.start)
        bucket = chart_bucket((last - first).days + 1)
        days = bucket_starts(first, last, bucket) if rows else ()
        index = {d: i for i, d in enumerate(days)}
        values = {k: [ZERO] * len(days) for k in keys}
        for r in rows:
            slot = index.get(bucket_start(r.day, bucket))
            if slot is None:
                continue
            values[r.key if r.key in keep else OTHER][slot] += r.cost
        if query.by is not None and query.by.name == "resource":  # the series are named as people read them
            labels = resource_labels(keep, self.queries.resource_names())
            keys = tuple(labels.get(k, k) for k in keys)
            values = {labels.get(k, k): v for k, v in values.items()}
        covered = (answer.period.start, min(period_last, answer.data_through or period_last) + timedelta(days=1))
        partial = tuple(d < covered[0] or bucket_end(d, bucket) > covered[1] for d in days)
        by = query.by.name if query.by is not None and query.by.kind != "time" else "service"
        title = f"{answer.scope_label} · {answer.period.label} · by {by}"
        return ChartSeries(title, answer.currency, days, keys, {k: tuple(v) for k, v in values.items()}, bucket,
                           metric=answer.metric, first=answer.period.start, last=period_last,
                           data_through=answer.data_through, partial=partial)
