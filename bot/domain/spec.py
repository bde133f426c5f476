"""Resolved cost questions: what the services hand to a CostStore. No text, no config, no SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

Metric = Literal["EffectiveCost", "BilledCost"]


@dataclass(frozen=True)
class TagsMatch:
    """All (tag key, value) pairs match, values compared case-insensitively. `column`: the attributed `Tags`, or
    only the `AllocatedTags` of a split (allocated) charge."""

    pairs: tuple[tuple[str, str], ...]
    column: Literal["Tags", "AllocatedTags"] = "Tags"


@dataclass(frozen=True)
class ColumnIn:
    """A FOCUS column equals one of the values (case-insensitively)."""

    column: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class TagMissing:
    """The tag key is absent or empty (the 'untagged' slice)."""

    key: str


@dataclass(frozen=True)
class ColumnGlob:
    """A FOCUS column matches one of the shell-style patterns (`ml-*`), case-insensitively: a team's
    `namespaces` selector."""

    column: str
    patterns: tuple[str, ...]


@dataclass(frozen=True)
class AllOf:
    """Every condition holds (an allocation rule's `select` with several keys)."""

    conditions: tuple[TagsMatch | ColumnIn | TagMissing, ...]


@dataclass(frozen=True)
class AnyOf:
    """One of the conditions holds (a team's tags, or its namespaces on a shared cluster)."""

    conditions: tuple[TagsMatch | ColumnGlob, ...]


@dataclass(frozen=True)
class TeamRule:
    """`first`: the team's claim on a shared cluster's allocated charge (its tags among the allocated tags, or its
    namespaces), checked for every team before any team's `match` on the attributed tags."""

    name: str
    match: TagsMatch
    first: TagsMatch | AnyOf | None = None


@dataclass(frozen=True)
class TeamIs:
    """The line item's team — the first rule whose `first` holds, else the first whose `match` holds — is `name`:
    one team per line item, as `by team` groups them."""

    name: str
    rules: tuple[TeamRule, ...]


Condition = TagsMatch | ColumnIn | TagMissing | AllOf | ColumnGlob | AnyOf | TeamIs


@dataclass(frozen=True)
class Grouping:
    """How to group line items: by configured team rules, a tag key, a column, or a time bucket."""

    kind: Literal["teams", "tag", "column", "time", "rules"]
    target: str
    teams: tuple[TeamRule, ...] = ()
    then: Grouping | None = None  # a second key: the group is "first<US>second" (KEY_SEPARATOR)
    rules: tuple[tuple[str, Condition], ...] = ()  # kind "rules": the first matching rule's name, else DIRECT


KEY_SEPARATOR = "\x1f"


UNTAGGED = "(untagged)"
DIRECT = "(direct)"
NONE_KEY = "(none)"
OTHER = "(other)"
IDLE = "(idle)"  # the workload of a shared node's unused capacity (split cost allocation)


@dataclass(frozen=True)
class CostSpec:
    metric: Metric
    start: date
    end: date  # exclusive
    conditions: tuple[Condition, ...] = ()
    untagged_key: str = "team"

    def with_range(self, start: date, end: date) -> CostSpec:
        return CostSpec(self.metric, start, end, self.conditions, self.untagged_key)
