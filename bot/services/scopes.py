"""How `/cost` words become what a cost store answers: the one place that knows how a team, a tag, a service
name, an account or `untagged` turns into a filter, and a `by` word into a grouping. Every use case that asks
the store about a scope goes through here."""

from __future__ import annotations

from datetime import date

from bot.config import CostbotConfig
from bot.domain.errors import QueryError, UnknownScope
from bot.domain.query import SCOPE_COLUMNS, Command, Query, Scope, parse_query, parse_scope
from bot.domain.spec import ColumnIn, Condition, CostSpec, Grouping, TagMissing, TagsMatch, TeamRule
from bot.ports import CostQueries


class ScopeResolver:
    def __init__(self, queries: CostQueries, config: CostbotConfig) -> None:
        self.queries = queries
        self.config = config

    # -- words ---------------------------------------------------------------------------------------------
    def parse(self, text: str) -> Query | Command:
        return parse_query(text, self.config.grammar)

    def scope(self, text: str) -> Query:
        """Scope words only (what budgets and digests are kept for) as a query over them."""
        return Query(scopes=parse_scope(text, self.config.grammar))

    @staticmethod
    def single_team(query: Query) -> str | None:
        """The team when a query's scope is exactly one team."""
        return str(query.scopes[0].key) if len(query.scopes) == 1 and query.scopes[0].kind == "team" else None

    # -- conditions and groupings --------------------------------------------------------------------------
    def team_match(self, team: str) -> TagsMatch:
        return TagsMatch(tuple(sorted(self.config.team_tags(team).items())))

    def team_rules(self) -> tuple[TeamRule, ...]:
        return tuple(TeamRule(name, self.team_match(name)) for name in self.config.teams)

    def team_grouping(self, then: Grouping | None = None) -> Grouping:
        """Line items grouped by the configured team they belong to ("(untagged)" for none)."""
        return Grouping("teams", self.config.grammar.team_tag_key, self.team_rules(), then=then)

    def service_names(self, value: str) -> tuple[str, ...]:
        """`service:VALUE`: the service whose name equals VALUE, else the one name containing it."""
        names = self.queries.distinct_values("ServiceName")
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
            return ColumnIn("ServiceName", self.service_names(str(scope.value)))
        if scope.kind in SCOPE_COLUMNS:
            return ColumnIn(SCOPE_COLUMNS[scope.kind], (str(scope.value),))
        raise QueryError(f"'{scope.label()}' cannot be used as a scope", word=scope.label())

    def grouping(self, query: Query) -> Grouping | None:
        dim = query.by
        if dim is None:
            return None
        if dim.kind == "team":
            return self.team_grouping()
        return Grouping(dim.kind, dim.target)

    def spec(self, query: Query, start: date, end: date, metric: str | None = None) -> CostSpec:
        chosen = metric or ("BilledCost" if query.billed else self.config.metric)
        conditions = tuple(self.condition(s) for s in query.scopes)
        return CostSpec(chosen, start, end, conditions, self.config.grammar.team_tag_key)  # type: ignore[arg-type]

    def scope_dict(self, query: Query, spec: CostSpec) -> dict[str, object]:
        """The scope as `--json` shows it: team, tags, and the column values a name resolved to."""
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
