"""Allocation: direct cost per team, shared cost spread by the config's rules (in order), and what stays
unallocated — for answers, explanations and the showback export. One query per period."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date
from decimal import Decimal

from bot.config import AllocationRule, CostbotConfig
from bot.domain.allocation import UNALLOCATED, Allocation, SharedPart, ShowbackRow, spread, weights_for
from bot.domain.answers import CostAnswer, Group, top_groups
from bot.domain.errors import ConfigError
from bot.domain.money import ZERO
from bot.domain.query import COLUMN_DIMENSIONS, Scope
from bot.domain.spec import (
    DIRECT,
    KEY_SEPARATOR,
    UNTAGGED,
    AllOf,
    ColumnIn,
    CostSpec,
    Grouping,
    TagMissing,
    TagsMatch,
)
from bot.ports import CostQueries, UsageMetrics
from bot.services.scopes import ScopeResolver


class AllocationService:
    def __init__(self, queries: CostQueries, scopes: ScopeResolver, config: CostbotConfig,
                 usage: UsageMetrics | None = None) -> None:
        self.queries = queries
        self.scopes = scopes
        self.config = config
        self.usage = usage  # usage metrics for `method: usage` rules (none on a query-only engine)

    @property
    def active(self) -> bool:
        return bool(self.config.allocation)

    def select(self, rule: AllocationRule) -> AllOf:
        """A rule's `select` (the same words as /cost scopes) as a condition."""
        parts: list[TagsMatch | ColumnIn | TagMissing] = []
        for key, value in rule.select.items():
            if key == "untagged":
                if value:
                    parts.append(TagMissing(self.config.grammar.team_tag_key))
            elif key == "service":
                cond = self.scopes.condition(Scope("service", "service", str(value)))
                assert isinstance(cond, ColumnIn)
                parts.append(cond)
            elif key in COLUMN_DIMENSIONS:
                values = value if isinstance(value, list) else [value]
                parts.append(ColumnIn(COLUMN_DIMENSIONS[key], tuple(str(v) for v in values)))
            elif key == "tags" and isinstance(value, dict):
                parts.append(TagsMatch(tuple((self.config.grammar.tag_key_for(k), str(v)) for k, v in value.items())))
            elif isinstance(value, str | int):
                parts.append(TagsMatch(((self.config.grammar.tag_key_for(key), str(value)),)))
            else:
                raise ConfigError(f"allocation.{rule.name}.select.{key}: expected a scope word's value")
        return AllOf(tuple(parts))

    def apply(self, answer: CostAnswer) -> CostAnswer:
        """The answer with shared costs allocated where the question is about teams: a team's total, or the
        organization by team (with each team's direct and shared parts)."""
        query = answer.query
        if not self.active or query.direct:
            return answer
        metric = answer.metric
        period = answer.period
        team_scope = (len(query.scopes) == 1 and query.scopes[0].kind == "team")
        if team_scope and query.by is None:
            team = str(query.scopes[0].key)
            now = self.allocate(period.start, period.end, metric)
            before = self.allocate(period.previous_start, period.previous_end, metric)
            shared = now.shared_by_team().get(team, ZERO)
            return replace(answer, total=now.total_for(team), previous_total=before.total_for(team),
                           direct_cost=now.direct.get(team, ZERO), shared_cost=shared)
        if not query.scopes and query.by is not None and query.by.kind == "team":
            now = self.allocate(period.start, period.end, metric)
            split: dict[str, tuple[Decimal, Decimal]] = {}
            shared_by_team = now.shared_by_team()
            for team in sorted(set(now.direct) | set(shared_by_team)):
                split[team] = (now.direct.get(team, ZERO), shared_by_team.get(team, ZERO))
            if now.unallocated:
                split[UNALLOCATED] = (now.unallocated, ZERO)
            groups = sorted((Group(k, d + s) for k, (d, s) in split.items()), key=lambda g: (-g.cost, g.key))
            return replace(answer, groups=top_groups(groups, query.top), group_split=split)
        return answer

    def showback(self, start: date, end: date) -> list[ShowbackRow]:
        """Rows for finance, exact: each team's direct cost by project and service, its shared cost by service and
        rule, and what no team holds — under the name `by team` gives it: (unallocated) with allocation rules,
        (untagged) without. Every row is one of the parts `by team` adds up."""
        rules = tuple((r.name, self.select(r)) for r in self.config.allocation)
        project = self.config.grammar.tag_key_for("project")
        grouping = Grouping("rules", "rules", rules=rules, then=self.scopes.team_grouping(
            then=Grouping("tag", project, then=Grouping("column", "ServiceName"))))
        spec = CostSpec(self.config.metric, start, end, (), self.config.grammar.team_tag_key)
        nobody = UNALLOCATED if self.active else UNTAGGED
        out: list[ShowbackRow] = []
        for key, cost in self.queries.groups(spec, grouping):
            rule, team, proj, service = ([*key.split(KEY_SEPARATOR), "", "", ""])[:4]
            if rule == DIRECT:
                kind = "unallocated" if team == UNTAGGED else "direct"
                out.append(ShowbackRow(nobody if team == UNTAGGED else team, proj, service, kind, "", cost))
        for part in self.allocate(start, end).shared:
            out.append(ShowbackRow(part.team, "(shared)", part.service, "shared", part.rule, part.cost))
        return sorted(out, key=lambda r: (r.team, r.kind, r.project, r.service, r.rule))

    def explain(self, team: str, start: date, end: date) -> list[tuple[str, Decimal]]:
        return self.allocate(start, end).explain(team)

    def allocate(self, start: date, end: date, metric: str | None = None) -> Allocation:
        rules = tuple((r.name, self.select(r)) for r in self.config.allocation)
        grouping = Grouping("rules", "rules", rules=rules, then=self.scopes.team_grouping(
            then=Grouping("column", "ServiceName", then=Grouping("column", "ServiceCategory"))))
        spec = CostSpec(metric or self.config.metric, start, end, (), self.config.grammar.team_tag_key)  # type: ignore[arg-type]
        rows = self.queries.groups(spec, grouping)
        direct: dict[str, Decimal] = defaultdict(lambda: ZERO)
        direct_by_category: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
        shared: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
        unallocated = ZERO
        for key, cost in rows:
            rule, team, service, category = ([*key.split(KEY_SEPARATOR), "", "", ""])[:4]
            if rule == DIRECT:
                if team == UNTAGGED:
                    unallocated += cost
                else:
                    direct[team] += cost
                    direct_by_category[(team, category)] += cost
            else:
                shared[rule][service] += cost
        parts: list[SharedPart] = []
        teams = list(self.config.teams)
        for rule_cfg in self.config.allocation:
            by_service = shared.get(rule_cfg.name)
            if not by_service:
                continue
            targets = rule_cfg.to or teams
            base: dict[str, Decimal] = dict(direct)
            if rule_cfg.within_category:
                base = {t: direct_by_category.get((t, rule_cfg.within_category), ZERO) for t in targets}
            usage: dict[str, Decimal] = {}
            if rule_cfg.method == "usage" and self.usage is not None:
                usage = self.usage.usage_by_team(rule_cfg.metric or "", start, end)
            weights = weights_for(rule_cfg.method, targets, base, rule_cfg.weights, usage)
            parts += spread(rule_cfg.name, by_service, weights)
        totals = {name: sum(v.values(), ZERO) for name, v in shared.items()}
        return Allocation(direct=dict(direct), shared=tuple(parts), unallocated=unallocated, rule_totals=totals)
