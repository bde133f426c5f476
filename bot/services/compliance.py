"""Tag compliance: how much spend carries the tags allocation and answers depend on."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from bot.config import CostbotConfig
from bot.domain.answers import Group, resource_labels
from bot.domain.compliance import TagCompliance
from bot.domain.money import ZERO
from bot.domain.periods import resolve_period
from bot.domain.query import Query
from bot.domain.spec import KEY_SEPARATOR, UNTAGGED, CostSpec, Grouping, TagMissing
from bot.ports import CostQueries
from bot.services.scopes import ScopeResolver


class ComplianceService:
    def __init__(self, queries: CostQueries, scopes: ScopeResolver, config: CostbotConfig,
                 today: Callable[[], date]) -> None:
        self.queries = queries
        self.scopes = scopes
        self.config = config
        self.today = today

    def report(self, period_word: str = "last-month", scope: Query | None = None) -> TagCompliance:
        """Tag compliance of the spend in `scope` (the whole organization when None): a team's digest speaks of
        the team's spend, its untagged part and its coverage, never of the organization's. The period is cut at
        the data's last day, as answers are."""
        period = resolve_period(period_word, self.today(), self.queries.freshness())
        key = self.config.grammar.team_tag_key
        metric = self.config.metric
        where = tuple(self.scopes.condition(s) for s in scope.scopes) if scope is not None else ()
        spec = CostSpec(metric, period.start, period.end, where, key)
        totals = self.queries.totals(spec, (period.previous_start, period.previous_end))
        previous = self.queries.totals(CostSpec(metric, period.previous_start, period.previous_end, where, key),
                                           (period.previous_start, period.previous_start))
        untagged_spec = CostSpec(metric, period.start, period.end, (*where, TagMissing(key)), key)
        top_ids = self.queries.groups(untagged_spec, Grouping("column", "ResourceId"))[:5]
        labels = resource_labels((k for k, _ in top_ids), self.queries.resource_names()) if top_ids else {}
        top_res = [Group(k, c, labels[k]) for k, c in top_ids]
        top_svc = self.queries.groups(untagged_spec, Grouping("column", "ServiceName"))[:5]
        by_account: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
        for k, cost in self.queries.groups(spec, Grouping("column", "SubAccountId", then=Grouping("tag", key))):
            account, _, value = k.partition(KEY_SEPARATOR)
            by_account[account][0] += cost
            if value != UNTAGGED:
                by_account[account][1] += cost
        coverage = tuple(sorted(((a, (t[1] / t[0] * 100) if t[0] else ZERO) for a, t in by_account.items()),
                                key=lambda x: (x[1], x[0])))
        by_key = {}
        for dim, tag in self.config.tag_keys.items():
            rows = dict(self.queries.groups(spec, Grouping("tag", tag)))
            total = sum(rows.values(), ZERO)
            by_key[dim] = ((total - rows.get(UNTAGGED, ZERO)) / total * 100) if total else ZERO
        return TagCompliance(period, self.config.currency, totals.current, totals.untagged, previous.current,
                             previous.untagged, tuple(top_res), tuple(top_svc), coverage, by_key)
