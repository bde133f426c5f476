"""How `/cost` words become what a cost store answers: the one place that knows how a team, a tag, a service
name, an account or `untagged` turns into a filter, and a `by` word into a grouping. Every use case that asks
the store about a scope goes through here."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from datetime import date, timedelta

from bot.config import CostbotConfig
from bot.domain.answers import resource_label
from bot.domain.errors import QueryError, UnknownScope
from bot.domain.query import (
    SCOPE_COLUMNS,
    Command,
    Query,
    Scope,
    parse_query,
    parse_scope,
    unknown_dimension,
)
from bot.domain.spec import (
    AnyOf,
    ColumnGlob,
    ColumnIn,
    Condition,
    CostSpec,
    Grouping,
    TagMissing,
    TagsMatch,
    TeamIs,
    TeamRule,
)
from bot.ports import CostQueries


class ScopeResolver:
    def __init__(self, queries: CostQueries, config: CostbotConfig) -> None:
        self.queries = queries
        self.config = config

    # -- words ---------------------------------------------------------------------------------------------
    def parse(self, text: str) -> Query | Command:
        """The text as a query or a command; `by` a tag key is checked against the configured dimensions and the
        tag keys of the billing data (`by servce` is an error with a suggestion, not a bogus `(untagged)`)."""
        parsed = parse_query(text, self.config.grammar)
        if isinstance(parsed, Query):
            self.check_dimension(parsed)
        return parsed

    def check_dimension(self, query: Query) -> None:
        dim = query.by
        if dim is None or dim.kind != "tag":
            return
        grammar = self.config.grammar
        configured = {k.lower() for k in grammar.tag_keys} | {v.lower() for v in grammar.tag_keys.values()}
        if dim.target.lower() in configured:
            return
        known = list(self.queries.tag_keys())
        if dim.target.lower() not in {k.lower() for k in known}:
            raise unknown_dimension(dim.name, grammar, known)

    def scope(self, text: str) -> Query:
        """Scope words only (what budgets and digests are kept for) as a query over them."""
        return Query(scopes=parse_scope(text, self.config.grammar))

    @staticmethod
    def single_team(query: Query) -> str | None:
        """The team when a query's scope is exactly one team."""
        return str(query.scopes[0].key) if len(query.scopes) == 1 and query.scopes[0].kind == "team" else None

    # -- conditions and groupings --------------------------------------------------------------------------
    def team_match(self, team: str) -> TeamIs:
        """A team's line items: those `by team` gives it (one team per line item, see `team_rules`)."""
        return TeamIs(team, self.team_rules())

    def team_rule(self, team: str) -> TeamRule:
        """A team's tags; and its claim on a shared cluster's allocated charges, checked first: its tags among the
        charge's allocated tags, or its `namespaces` patterns."""
        pairs = tuple(sorted(self.config.team_tags(team).items()))
        allocated = TagsMatch(pairs, "AllocatedTags")
        namespaces = tuple(self.config.teams[team].namespaces)
        first = AnyOf((allocated, ColumnGlob("x_Namespace", namespaces))) if namespaces else allocated
        return TeamRule(team, TagsMatch(pairs), first)

    def team_rules(self) -> tuple[TeamRule, ...]:
        """In config order; a line item is the first team's whose claim on an allocated charge holds, else the
        first team's whose tags match its attributed tags (allocated tags over the origin's)."""
        return tuple(self.team_rule(name) for name in self.config.teams)

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
        words = {w.lower(): n for n in names for w in [n, *n.split()] if len(w) > 2}  # a name, or a word of one
        close = difflib.get_close_matches(value.lower(), list(words), n=1, cutoff=0.6)
        if close:
            name = words[close[0]]
            shown = f'service:"{name}"' if " " in name else f"service:{name}"
            raise UnknownScope(f"no service matches '{value}' in the billing data. Did you mean '{shown}'?",
                               word=f"service:{value}", suggestion=shown)
        raise UnknownScope(f"no service matches '{value}' in the billing data", word=f"service:{value}")

    def resource_ids(self, value: str) -> tuple[str, ...]:
        """`resource:VALUE`: the resource whose id is VALUE, else the one named VALUE, else the one whose id ends
        in VALUE (an ARN's last segment, e.g. an instance id). Several with one name are an error that lists
        them; none says so, with the closest names."""
        names = self.queries.resource_names()
        wanted = value.lower()
        for matches in ([i for i in names if i.lower() == wanted],
                        [i for i, n in names.items() if n.lower() == wanted],
                        [i for i in names if resource_label(i).lower() == wanted]):
            if len(matches) == 1:
                return (matches[0],)
            if matches:
                shown = ", ".join(sorted(matches)[:5]) + (" …" if len(matches) > 5 else "")
                raise UnknownScope(f"resource:{value} names {len(matches)} resources: {shown}. Use one id, e.g. "
                                   f"resource:{sorted(matches)[0]}", word=f"resource:{value}")
        labels = {resource_label(i, n) for i, n in names.items()}
        raise _absent(f"resource:{value}", f"no resource named '{value}' (or with that id) in the billing data",
                      value, labels, "resource:")

    def condition(self, scope: Scope) -> Condition:
        if scope.kind == "team":
            return self.team_match(str(scope.key))
        if scope.kind == "untagged":
            return TagMissing(self.config.grammar.team_tag_key)
        if scope.kind == "tag":
            return TagsMatch(((str(scope.key), str(scope.value)),))
        if scope.kind == "service":
            return ColumnIn("ServiceName", self.service_names(str(scope.value)))
        if scope.kind == "resource":
            return ColumnIn("ResourceId", self.resource_ids(str(scope.value)))
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

    # -- a question that found nothing: say why ----------------------------------------------------------------
    def explain_nothing(self, query: Query, first_day: date, last_day: date, metric: str) -> None:
        """Called when a question found no spend in either period. Raises UnknownScope when a scope word names
        something the billing data never holds (with the closest that it does), or when scopes that each match
        something match nothing together (scopes AND together); returns when the scope simply had no spend then."""
        grammar = self.config.grammar
        for scope in query.scopes:
            if scope.kind == "tag":
                key, value = str(scope.key), str(scope.value)
                keys = list(self.queries.tag_keys())
                if key.lower() not in {k.lower() for k in keys}:
                    raise _absent(scope.label(), f"no line item has a tag '{key}' in the billing data", key,
                                  [*keys, *grammar.tag_keys], "", suffix=f":{value}")
                values = self.queries.tag_values(key)
                if value.lower() not in {v.lower() for v in values}:
                    raise _absent(scope.label(), f"no line item has {key} '{value}' in the billing data", value,
                                  values, f"{key}:")
            elif scope.kind in ("region", "account", "cluster", "namespace", "workload"):
                column = SCOPE_COLUMNS[scope.kind]
                values = self.queries.distinct_values(column)
                if scope.kind in ("cluster", "namespace", "workload") and not any(values):
                    raise UnknownScope(
                        f"no shared-cluster charges in the billing data, so no {scope.kind} '{scope.value}': "
                        "clusters, namespaces, workloads and idle capacity come from bills that split shared "
                        "nodes by workload (FOCUS 1.3 allocated charges, AWS split cost allocation for EKS/ECS, "
                        "GKE cost allocation)", word=scope.label())
                if str(scope.value).lower() not in {v.lower() for v in values}:
                    raise _absent(scope.label(), f"no {scope.kind} '{scope.value}' in the billing data",
                                  str(scope.value), values, f"{scope.kind}:")
        spec = self.spec(query, first_day, last_day + timedelta(days=1), metric)
        if query.scopes and self.queries.totals(spec, (first_day, first_day)).current == 0:
            if len(query.scopes) > 1:
                words = " and ".join(s.label() for s in query.scopes)
                raise UnknownScope(f"{words} together match no spend in the billing data: scopes AND together (a "
                                   "line item must match every one). Ask about one at a time, or group, e.g. "
                                   "`by team`", word=query.scopes[-1].label())
            raise UnknownScope(f"{query.scopes[0].label()} matches no spend anywhere in the billing data "
                               f"({first_day.isoformat()} – {last_day.isoformat()})", word=query.scopes[0].label())


def _absent(word: str, message: str, value: str, existing: Iterable[str], prefix: str,
            suffix: str = "") -> UnknownScope:
    """"X is not in the data", with the closest values that are (as the scope word to type instead)."""
    candidates = sorted({e for e in existing if e})
    lowered = {c.lower(): c for c in candidates}
    close = [lowered[m] for m in difflib.get_close_matches(value.lower(), list(lowered), n=3, cutoff=0.6)]
    if close:
        shown = " or ".join(f"'{prefix}{c}{suffix}'" for c in close)
        return UnknownScope(f"{message}. Did you mean {shown}?", word=word, suggestion=f"{prefix}{close[0]}{suffix}")
    return UnknownScope(f"{message}.", word=word)
