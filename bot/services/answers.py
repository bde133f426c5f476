"""Answering cost questions: text or Query in, CostAnswer out (shared costs allocated where the question is
about teams), and the chart series of an answer. Knows the config and the query port, not the engine."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from decimal import Decimal

from bot.config import CostbotConfig
from bot.domain.answers import (
    ChartSeries,
    CostAnswer,
    Group,
    bucket_start,
    bucket_starts,
    chart_bucket,
    resource_labels,
    top_groups,
    top_keys,
)
from bot.domain.errors import NoData
from bot.domain.money import ZERO
from bot.domain.periods import resolve_period
from bot.domain.query import Command, Query
from bot.domain.spec import OTHER, Grouping
from bot.ports import CostQueries
from bot.services.allocation import AllocationService
from bot.services.scopes import ScopeResolver

CHART_STACKS = 6


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

    def answer(self, query: Query) -> CostAnswer:
        """The answer up to the data's last complete day: a period that runs past it is cut there and compared
        with the same span of its comparison period; a comparison period the store only partly holds is flagged
        (`previous_coverage`); a question that finds nothing says why when a word names nothing in the data."""
        data_through = self.queries.freshness()
        if data_through is None:
            raise NoData("no billing data yet: run `costbot demo`, or `costbot ingest PATH` with FOCUS or CUR files")
        first_day = self.queries.first_day() or data_through
        period = resolve_period(query.period, self.today(), data_through)
        spec = self.scopes.spec(query, period.start, period.end)
        totals = self.queries.totals(spec, (period.previous_start, period.previous_end))
        groups: tuple[Group, ...] = ()
        grouping = self.scopes.grouping(query)
        if grouping is not None:
            rows = self.queries.groups(spec, grouping)  # largest first
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
            coverage=period.coverage(first_day, data_through),
            previous_coverage=period.previous_coverage(first_day, data_through),
        )
        answer = self.allocation.apply(answer)
        if answer.total == 0 and answer.previous_total == 0:  # nothing found: a word that names nothing says so
            self.scopes.explain_nothing(query, first_day, data_through, spec.metric)
        return answer

    def _named(self, groups: tuple[Group, ...], query: Query) -> tuple[Group, ...]:
        """`by resource`: each group keeps the id as its key and carries the name people read."""
        if query.by is None or query.by.name != "resource":
            return groups
        labels = resource_labels((g.key for g in groups), self.queries.resource_names())
        return tuple(replace(g, name=labels[g.key]) for g in groups)

    def chart_series(self, answer: CostAnswer) -> ChartSeries:
        """Spend for the answer's scope and period, stacked by its dimension (or by service): daily bars, or
        weekly / monthly ones when the days with data span too long for daily bars to be read."""
        query = answer.query
        grouping = self.scopes.grouping(query)
        if grouping is None or grouping.kind == "time":
            grouping = Grouping("column", "ServiceName")
        spec = self.scopes.spec(query, answer.period.start, answer.period.end)
        rows = self.queries.daily(spec, grouping)
        totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for r in rows:
            totals[r.key] += r.cost
        keep, keys = top_keys(totals, CHART_STACKS)
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
        if query.by is not None and query.by.name == "resource":  # the series are named as people read them
            labels = resource_labels(keep, self.queries.resource_names())
            keys = tuple(labels.get(k, k) for k in keys)
            values = {labels.get(k, k): v for k, v in values.items()}
        title = f"{answer.scope_label} · {answer.period.describe()}"
        return ChartSeries(title, answer.currency, days, keys, {k: tuple(v) for k, v in values.items()}, bucket)
