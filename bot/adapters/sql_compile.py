"""The one place where the query model becomes SQL (DuckDB dialect; other engines transpile from it).

Every tag key and value, team or rule name and date is a named parameter (`$pN`), never text in the SQL:
DuckDB binds them, and the Athena store binds them as literal nodes in the parsed tree. The SQL text holds
only constants and quoted column names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from bot.adapters.sources.columns import quote_ident, quote_literal
from bot.domain.spec import (
    DIRECT,
    NONE_KEY,
    OTHER,
    UNTAGGED,
    AllOf,
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

ALLOWED_COLUMNS = {
    "ServiceName", "SubAccountId", "RegionId", "ResourceId", "ServiceCategory", "BillingAccountId",
    "ProviderName", "ChargeCategory", "ResourceType", "x_UsageType", "ResourceName",
    "x_Cluster", "x_Namespace", "x_Workload", "x_Node",
}

#: the daily rollup: line items summed per UTC day and these columns (plus the indexed tag columns, the source
#: and billing period an ingest replaces by); it answers every question whose filters and groups it holds
ROLLUP_TABLE = "daily_costs"
PERIOD_FORMATS = {"day": "%Y-%m-%d", "week": "%Y-%m-%d", "month": "%Y-%m"}  # `by day` keys, as text
ROLLUP_COLUMNS = ("BillingAccountId", "SubAccountId", "ProviderName", "ServiceName", "ServiceCategory", "RegionId",
                  "ChargeCategory", "BillingCurrency", "x_Cluster", "x_Namespace")
#: also kept whole in the rollup: a shared cluster's split charges carry the tags they are allocated to (NULL on
#: every other line item), which teams' claims (`TeamRule.first`) read
ROLLUP_MAPS = ("AllocatedTags",)
#: a line item no team can claim as a shared cluster's split charge (see `team_case`)
NO_CLAIM = "(AllocatedTags IS NULL AND x_Namespace IS NULL)"


def rollup_serves(spec: CostSpec, grouping: Grouping | None, tag_columns: Mapping[str, str]) -> bool:
    """Whether the daily rollup holds every column the question filters or groups on (else: line items)."""
    def tag(key: str) -> bool:
        return key.lower() in tag_columns

    def cond(c: Condition) -> bool:
        if isinstance(c, TagsMatch):  # indexed tag columns; a split charge's allocated tags are kept whole
            return c.column in ROLLUP_MAPS or all(tag(k) for k, _ in c.pairs)
        if isinstance(c, ColumnIn | ColumnGlob):
            return c.column in ROLLUP_COLUMNS
        if isinstance(c, TagMissing):
            return tag(c.key)
        if isinstance(c, AllOf | AnyOf):
            return all(cond(x) for x in c.conditions)
        if isinstance(c, TeamIs):
            return teams(c.rules)
        return False  # a condition this function does not know: the line items answer it

    def teams(rules: Sequence[TeamRule]) -> bool:
        return all(cond(r.match) and (r.first is None or cond(r.first)) for r in rules)

    def group(g: Grouping) -> bool:
        if g.then is not None and not group(g.then):
            return False
        if g.kind == "teams":
            return teams(g.teams) if g.teams else tag(g.target)
        if g.kind == "rules":
            return all(cond(c) for _, c in g.rules)
        if g.kind == "tag":
            return tag(g.target)
        if g.kind == "column":
            return g.target in ROLLUP_COLUMNS
        return g.kind == "time"

    return tag(spec.untagged_key) and all(cond(c) for c in spec.conditions) and (grouping is None or group(grouping))


def like_pattern(glob: str) -> str:
    """A shell pattern (`ml-*`, `team-?`) as a LIKE pattern with `\\` escaping: LIKE is in every engine's SQL
    (DuckDB's GLOB is not in Athena's)."""
    out = []
    for ch in glob:
        if ch in "%_\\":
            out.append("\\" + ch)
        elif ch == "*":
            out.append("%")
        elif ch == "?":
            out.append("_")
        else:
            out.append(ch)
    return "".join(out)


class SqlBuilder:
    """Builds parameterized SQL. `tag_keys` are the keys present in the data, for case-insensitive lookup.

    Values are compared case-insensitively by the engine (`lower(x) = lower($p)`), so both sides are
    lower-cased by the same rules (Python's `str.lower` differs from SQL's, e.g. for a final sigma).
    """

    def __init__(self, tag_keys: Sequence[str], tag_columns: Mapping[str, str] | None = None,
                 table: str = "costs") -> None:
        self.table = table
        self._columns = dict(tag_columns or {})
        self._keys: dict[str, list[str]] = {}
        for k in tag_keys:
            self._keys.setdefault(k.lower(), []).append(k)
        self.params: dict[str, Any] = {}

    def param(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"${name}"

    def tag(self, key: str) -> str:
        """The tag's value (empty string as NULL), trying every spelling of the key found in the data."""
        if key.lower() in self._columns:
            return quote_ident(self._columns[key.lower()])
        spellings = self._keys.get(key.lower(), [key])
        refs = [f"NULLIF(Tags[{self.param(k)}], '')" for k in spellings]
        return refs[0] if len(refs) == 1 else f"coalesce({', '.join(refs)})"

    def allocated_tag(self, key: str) -> str:
        """The key's value among a split charge's allocated tags (NULL on other line items)."""
        refs = [f"NULLIF(AllocatedTags[{self.param(k)}], '')" for k in self._keys.get(key.lower(), [key])]
        return refs[0] if len(refs) == 1 else f"coalesce({', '.join(refs)})"

    def team_case(self, rules: Sequence[TeamRule]) -> str:
        """The line item's team: shared-cluster claims (`first`) of every team before any team's tags. A line item
        that is no split charge (no allocated tags, no namespace: nearly all of a bill) cannot meet a claim, so it
        only goes through the tags."""
        by_tags = " ".join(f"WHEN {self.condition(r.match)} THEN {self.param(r.name)}" for r in rules)
        firsts = [f"WHEN {self.condition(r.first)} THEN {self.param(r.name)}" for r in rules if r.first is not None]
        if not firsts:
            return f"CASE {by_tags} ELSE {quote_literal(UNTAGGED)} END"
        return (f"CASE WHEN {NO_CLAIM} THEN (CASE {by_tags} ELSE {quote_literal(UNTAGGED)} END) "
                f"ELSE (CASE {' '.join(firsts)} {by_tags} ELSE {quote_literal(UNTAGGED)} END) END")

    def staged_key(self, grouping: Grouping) -> tuple[list[str], str] | None:
        """`by day` / `week` / `month` in two steps: summed per period, then the period written as text (a year of
        the rollup is 14 M rows and 365 days). `by team` in two steps, when every team is told by its tags: first
        the rows are summed per tag value
        (and, for the few split charges a team may claim, per claimed team), then the team is read off each sum.
        The engine then evaluates the teams' comparisons on a few sums instead of on every row (DuckDB groups a
        year of the rollup by team ~2.5x faster). Returns the first step's columns and the second step's key over
        them, or None when the grouping is neither a period nor such a `by team`."""
        if grouping.kind == "time" and grouping.then is None:  # formatted once per period, not once per row
            return ([f"date_trunc({quote_literal(grouping.target)}, ChargePeriodStart) AS t0"],
                    f"strftime(t0, {quote_literal(PERIOD_FORMATS[grouping.target])})")
        rules = grouping.teams
        if grouping.kind != "teams" or grouping.then is not None or not rules:
            return None
        if any(r.match.column != "Tags" for r in rules):
            return None
        keys: dict[str, tuple[str, str]] = {}  # lower-cased key -> (the key as configured, its column alias)
        for r in rules:
            for k, _ in r.match.pairs:
                keys.setdefault(k.lower(), (k, f"t{len(keys)}"))
        columns = [f"{self.tag(k)} AS {alias}" for k, alias in keys.values()]
        whens = []
        for r in rules:
            match = " AND ".join(f"lower({keys[k.lower()][1]}) = lower({self.param(v)})" for k, v in r.match.pairs)
            whens.append(f"WHEN ({match}) THEN {self.param(r.name)}")
        by_tags = f"CASE {' '.join(whens)} ELSE {quote_literal(UNTAGGED)} END"
        if not any(r.first is not None for r in rules):
            return columns, by_tags
        columns.append(f"CASE WHEN {NO_CLAIM} THEN NULL ELSE ({self.team_case(rules)}) END AS claimed")
        return columns, f"coalesce(claimed, {by_tags})"

    def team_is(self, cond: TeamIs) -> str:
        """`TeamIs` as a filter. Where teams are told apart by one tag key with distinct values (team: ml, team:
        vision, …) at most one team's tags match a line item, so outside shared-cluster claims the team's own tag
        comparison decides, which the engine evaluates far faster than the whole CASE."""
        own = [r for r in cond.rules if r.name == cond.name]
        keys = {k.lower() for r in cond.rules for k, _ in r.match.pairs}
        values = [v.lower() for r in cond.rules for _, v in r.match.pairs]
        exclusive = (all(len(r.match.pairs) == 1 and r.match.column == "Tags" for r in cond.rules)
                     and len(keys) == 1 and len(values) == len(set(values)) and len(own) == 1)
        whole = f"({self.team_case(cond.rules)}) = {self.param(cond.name)}"
        if not exclusive:
            return whole
        mine = self.condition(own[0].match)
        if not any(r.first is not None for r in cond.rules):
            return f"coalesce({mine}, FALSE)"
        return f"(CASE WHEN {NO_CLAIM} THEN coalesce({mine}, FALSE) ELSE {whole} END)"

    def condition(self, cond: Condition) -> str:
        if isinstance(cond, TagsMatch):
            value = self.allocated_tag if cond.column == "AllocatedTags" else self.tag
            parts = [f"lower({value(k)}) = lower({self.param(v)})" for k, v in cond.pairs]
            return "(" + " AND ".join(parts) + ")"
        if isinstance(cond, TeamIs):
            return self.team_is(cond)
        if isinstance(cond, ColumnIn):
            if cond.column not in ALLOWED_COLUMNS:
                raise ValueError(f"column {cond.column} cannot be filtered")
            if not cond.values:
                return "FALSE"
            values = ", ".join(f"lower({self.param(v)})" for v in cond.values)
            return f"lower({quote_ident(cond.column)}) IN ({values})"
        if isinstance(cond, TagMissing):
            return f"({self.tag(cond.key)} IS NULL)"
        if isinstance(cond, ColumnGlob):
            if cond.column not in ALLOWED_COLUMNS:
                raise ValueError(f"column {cond.column} cannot be filtered")
            if not cond.patterns:
                return "FALSE"
            likes = " OR ".join(f"lower({quote_ident(cond.column)}) LIKE lower({self.param(like_pattern(p))}) "
                                f"ESCAPE '\\'" for p in cond.patterns)
            return f"coalesce({likes}, FALSE)"
        if isinstance(cond, AnyOf):
            return "(" + " OR ".join(self.condition(c) for c in cond.conditions) + ")" if cond.conditions else "FALSE"
        if isinstance(cond, AllOf):
            return "(" + " AND ".join(self.condition(c) for c in cond.conditions) + ")" if cond.conditions else "TRUE"
        raise TypeError(cond)

    def where(self, spec: CostSpec, start: date, end: date) -> str:
        parts = [f"ChargePeriodStart >= {self.param(start)}", f"ChargePeriodStart < {self.param(end)}"]
        parts += [self.condition(c) for c in spec.conditions]
        return " AND ".join(parts)

    def group_key(self, grouping: Grouping) -> str:
        if grouping.then is not None:
            first = self.group_key(Grouping(grouping.kind, grouping.target, grouping.teams, rules=grouping.rules))
            return f"({first}) || chr(31) || ({self.group_key(grouping.then)})"  # KEY_SEPARATOR
        if grouping.kind == "teams":
            if not grouping.teams:
                return f"coalesce({self.tag(grouping.target)}, {quote_literal(UNTAGGED)})"
            return self.team_case(grouping.teams)
        if grouping.kind == "rules":
            cases = " ".join(f"WHEN {self.condition(c)} THEN {self.param(name)}" for name, c in grouping.rules)
            return f"CASE {cases} ELSE {quote_literal(DIRECT)} END" if cases else quote_literal(DIRECT)
        if grouping.kind == "tag":
            return f"coalesce({self.tag(grouping.target)}, {quote_literal(UNTAGGED)})"
        if grouping.kind == "column":
            if grouping.target not in ALLOWED_COLUMNS:
                raise ValueError(f"column {grouping.target} cannot be grouped on")
            return f"coalesce({quote_ident(grouping.target)}, {quote_literal(NONE_KEY)})"
        if grouping.kind == "time":
            fmt = PERIOD_FORMATS[grouping.target]
            return f"strftime(date_trunc({quote_literal(grouping.target)}, ChargePeriodStart), {quote_literal(fmt)})"
        raise ValueError(grouping.kind)


def tag_values_sql(key: str, tag_keys: Sequence[str], tag_columns: Mapping[str, str] | None = None,
                   table: str = "costs") -> tuple[str, dict[str, Any]]:
    """The distinct values of one tag key (any spelling) in the whole store."""
    b = SqlBuilder(tag_keys, tag_columns, table)
    value = b.tag(key)
    return f"SELECT DISTINCT {value} AS v FROM {b.table} WHERE {value} IS NOT NULL ORDER BY 1", b.params


TAG_KEYS_SQL = "SELECT DISTINCT k FROM costs, unnest(map_keys(Tags)) AS t(k) WHERE k IS NOT NULL ORDER BY 1"
RESOURCE_NAMES_SQL = ("SELECT ResourceId, coalesce(max(NULLIF(ResourceName, '')), '') FROM costs "
                      "WHERE ResourceId IS NOT NULL AND ResourceId <> '' GROUP BY 1")


def totals_sql(
    spec: CostSpec, previous: tuple[date, date], tag_keys: Sequence[str], tag_columns: Mapping[str, str] | None = None,
    table: str = "costs",
) -> tuple[str, dict[str, Any]]:
    """Current, previous and untagged totals in one scan (of `table`: line items, or the rollup that serves it)."""
    b = SqlBuilder(tag_keys, tag_columns, table)
    metric = quote_ident(spec.metric)
    cur_start, cur_end = b.param(spec.start), b.param(spec.end)
    untagged = b.tag(spec.untagged_key)
    prev_start, prev_end = b.param(previous[0]), b.param(previous[1])
    select = (
        f"SELECT coalesce(sum({metric}) FILTER (WHERE ChargePeriodStart >= {cur_start} "
        f"AND ChargePeriodStart < {cur_end}), 0), "
        f"coalesce(sum({metric}) FILTER (WHERE ChargePeriodStart >= {b.param(spec.start)} "
        f"AND ChargePeriodStart < {b.param(spec.end)} AND {untagged} IS NULL), 0), "
        f"coalesce(sum({metric}) FILTER (WHERE ChargePeriodStart >= {prev_start} "
        f"AND ChargePeriodStart < {prev_end}), 0) "
    )
    lo, hi = min(spec.start, previous[0]), max(spec.end, previous[1])
    sql = select + f"FROM {b.table} WHERE " + b.where(spec, lo, hi)
    return sql, b.params


def groups_sql(
    spec: CostSpec, grouping: Grouping, tag_keys: Sequence[str], tag_columns: Mapping[str, str] | None = None,
    table: str = "costs", top: int | None = None, staged: bool = False,
) -> tuple[str, dict[str, Any]]:
    """Groups largest first; with `top`, the `top` largest and then the rest summed as one OTHER row (if any).
    `staged`: a `by team` or a period in two steps where it can be (`SqlBuilder.staged_key`; the embedded store)."""
    b = SqlBuilder(tag_keys, tag_columns, table)
    metric = quote_ident(spec.metric)
    where = b.where(spec, spec.start, spec.end)
    staged_key = b.staged_key(grouping) if staged else None
    if staged_key is not None:
        columns, key = staged_key
        first = (f"SELECT {', '.join(columns)}, sum({metric}) AS cost FROM {b.table} WHERE {where} "
                 f"GROUP BY {_ordinals(len(columns))}")
        grouped = f"SELECT {key} AS k, sum(cost) AS cost FROM ({first}) AS s GROUP BY 1"
    else:
        grouped = f"SELECT {b.group_key(grouping)} AS k, sum({metric}) AS cost FROM {b.table} WHERE {where} GROUP BY 1"
    if top is None:
        return f"{grouped} ORDER BY cost DESC, k", b.params
    n = b.param(int(top))
    sql = (f"WITH g AS ({grouped}), r AS (SELECT k, cost, row_number() OVER (ORDER BY cost DESC, k) AS n FROM g) "
           f"SELECT k, cost FROM (SELECT k, cost, n FROM r WHERE n <= {n} UNION ALL "
           f"SELECT {quote_literal(OTHER)}, sum(cost), {n} + 1 FROM r WHERE n > {n} GROUP BY 1) ORDER BY n")
    return sql, b.params


def daily_sql(
    spec: CostSpec, grouping: Grouping, tag_keys: Sequence[str], tag_columns: Mapping[str, str] | None = None,
    table: str = "costs", staged: bool = False,
) -> tuple[str, dict[str, Any]]:
    """Per day and group, days in order; `staged` as in `groups_sql`."""
    b = SqlBuilder(tag_keys, tag_columns, table)
    metric = quote_ident(spec.metric)
    where = b.where(spec, spec.start, spec.end)
    staged_key = b.staged_key(grouping) if staged else None
    if staged_key is not None:
        columns, key = staged_key
        first = (f"SELECT CAST(ChargePeriodStart AS DATE) AS d, {', '.join(columns)}, sum({metric}) AS cost "
                 f"FROM {b.table} WHERE {where} GROUP BY {_ordinals(len(columns) + 1)}")
        return f"SELECT d, {key} AS k, sum(cost) AS cost FROM ({first}) AS s GROUP BY 1, 2 ORDER BY 1, 2", b.params
    sql = (f"SELECT CAST(ChargePeriodStart AS DATE) AS d, {b.group_key(grouping)} AS k, sum({metric}) AS cost "
           f"FROM {b.table} WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2")
    return sql, b.params


def _ordinals(n: int) -> str:
    return ", ".join(str(i) for i in range(1, n + 1))


HOUR_UNITS = ("hrs", "hours", "hour", "hr")  # how exports spell an hour in ConsumedUnit


def quantities_sql(
    spec: CostSpec, grouping: Grouping, tag_keys: Sequence[str], tag_columns: Mapping[str, str] | None = None
) -> tuple[str, dict[str, Any]]:
    """Hours consumed per group: ConsumedQuantity of the lines whose ConsumedUnit is an hour."""
    b = SqlBuilder(tag_keys, tag_columns)
    key = b.group_key(grouping)
    where = b.where(spec, spec.start, spec.end)
    units = ", ".join(b.param(u) for u in HOUR_UNITS)
    sql = (f"SELECT {key} AS k, sum(ConsumedQuantity) AS hours FROM {b.table} WHERE {where} "
           f"AND lower(ConsumedUnit) IN ({units}) AND ConsumedQuantity IS NOT NULL GROUP BY 1 ORDER BY hours DESC, k")
    return sql, b.params
