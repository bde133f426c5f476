"""What a cost question returns: plain data that renderers (terminal, JSON, Slack, charts) turn into output."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal

from bot.domain.changes import Change
from bot.domain.money import ZERO, percent_change, round_to_total, to_cents
from bot.domain.periods import Coverage, Period
from bot.domain.query import Query
from bot.domain.spec import NONE_KEY, OTHER, UNTAGGED


@dataclass(frozen=True)
class Group:
    key: str
    cost: Decimal
    name: str | None = None  # what people read when the key is an id (`by resource`: the resource's name)

    @property
    def label(self) -> str:
        return self.name or self.key


def resource_label(resource_id: str, name: str | None = None) -> str:
    """What a resource is called where people read: its name, else the last segment of its id
    (`arn:aws:ec2:…:instance/i-0abc` -> `i-0abc`, `arn:aws:s3:::bucket` -> `bucket`)."""
    if name and name != NONE_KEY:
        return name
    if resource_id in (NONE_KEY, OTHER, UNTAGGED):
        return resource_id
    return re.split(r"[/:]", resource_id.rstrip("/:"))[-1] or resource_id


def resource_labels(ids: Iterable[str], names: Mapping[str, str]) -> dict[str, str]:
    """Labels for these resource ids that can be told apart: when two share a name, each gets the last segment of
    its id (or, when that is the same too, its whole id) in parentheses."""
    ids = list(dict.fromkeys(ids))
    labels = {i: resource_label(i, names.get(i)) for i in ids}
    count: dict[str, int] = {}
    for label in labels.values():
        count[label] = count.get(label, 0) + 1
    for i in ids:
        if count[labels[i]] > 1:
            tail = resource_label(i)
            labels[i] = f"{labels[i]} ({tail if tail != labels[i] else i})"
    return labels


def top_groups(groups: Sequence[Group], top: int | None) -> tuple[Group, ...]:
    """The `top` largest groups (they come largest first) and the rest summed as one "(other)" group, so the
    groups still add up to the total. The one place `top N` is applied."""
    if top is None or len(groups) <= top:
        return tuple(groups)
    rest = sum((g.cost for g in groups[top:]), ZERO)
    return (*groups[:top], Group(OTHER, rest))


DRIVERS = 3  # the parts a total without `by` is explained by
MOVERS = 2  # the parts a change is explained by


def drivers_and_movers(now: Sequence[tuple[str, Decimal]], before: Sequence[tuple[str, Decimal]],
                       dimension: str) -> tuple[tuple[Group, ...], tuple[Change, ...]]:
    """The largest parts of a total (those worth a cent) and the parts whose spend moved most against the
    previous period, largest move first (moves under a cent are no move)."""
    current = dict(now)
    previous = dict(before)
    drivers = tuple(Group(k, c) for k, c in sorted(current.items(), key=lambda kv: (-kv[1], kv[0]))
                    if to_cents(c) > 0)[:DRIVERS]
    changes = [Change(k, current.get(k, ZERO), previous.get(k, ZERO), dimension)
               for k in sorted(set(current) | set(previous))]
    moved = sorted((c for c in changes if to_cents(c.change) != 0), key=lambda c: (-abs(c.change), c.key))
    return drivers, tuple(moved[:MOVERS])


def top_keys(totals: Mapping[str, Decimal], top: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """For stacked charts: (the `top` largest keys, the keys drawn — those and "(other)" when there are
    more), largest first, ties by name."""
    ranked = sorted(totals, key=lambda k: (-totals[k], k))
    keep = tuple(ranked[:top])
    return keep, ((*keep, OTHER) if len(ranked) > top else keep)


@dataclass(frozen=True)
class CostAnswer:
    query: Query
    scope: dict[str, object]
    period: Period
    metric: str
    currency: str
    total: Decimal
    previous_total: Decimal
    untagged_cost: Decimal
    groups: tuple[Group, ...] = ()
    dimension: str | None = None
    data_through: date | None = None
    # with allocation rules: the team's own cost and its part of shared costs (total = direct + shared)
    direct_cost: Decimal | None = None
    shared_cost: Decimal | None = None
    group_split: dict[str, tuple[Decimal, Decimal]] | None = None  # by team: key -> (direct, shared)
    # without `by`: what the total is made of (the largest parts by `drivers_by`, service or team) and why it
    # changed (the parts that moved most against the previous period)
    drivers: tuple[Group, ...] = ()
    drivers_by: str | None = None
    movers: tuple[Change, ...] = ()
    untagged_applies: bool = True  # False where the untagged share is 0 or 100 % by definition (a team scope)
    asked_on: date | None = None  # the day relative periods were resolved against ("last-week" of that day)
    coverage: Coverage | None = None  # the part of the period the store holds, when it holds less than all
    previous_coverage: Coverage | None = None  # the same for the comparison period: then no like-for-like change

    @property
    def comparable(self) -> bool:
        """True when the comparison period is held whole, so the change compares like with like."""
        return self.previous_coverage is None

    @property
    def change(self) -> Decimal:
        return self.total - self.previous_total

    @property
    def change_percent(self) -> Decimal | None:
        return percent_change(self.total, self.previous_total)

    @property
    def untagged_share(self) -> Decimal | None:
        if self.total == 0:
            return None
        return self.untagged_cost / self.total * 100

    @property
    def scope_label(self) -> str:
        return self.query.scope_label()

    def in_cents(self) -> CostAnswer:
        """The answer as every surface shows it: each figure in whole cents, the groups adding up exactly to the
        total (largest remainder, `round_to_total`), each group's direct and shared parts to the group, and a
        team's direct and shared cost to its total. Renderers show this, never figures rounded one by one."""
        total = to_cents(self.total)
        rounded = round_to_total({i: g.cost for i, g in enumerate(self.groups)}, total) if self.groups else {}
        groups = tuple(replace(g, cost=rounded[i]) for i, g in enumerate(self.groups))
        untagged = to_cents(self.untagged_cost)
        for exact, shown in zip(self.groups, groups, strict=True):
            if exact.key == UNTAGGED and exact.cost == self.untagged_cost:
                untagged = shown.cost  # the same figure twice (`by team`): shown the same
        split = None
        if self.group_split is not None:
            split = dict(self.group_split)
            for g in groups:
                if g.key in split:
                    parts = round_to_total(dict(enumerate(split[g.key])), g.cost)
                    split[g.key] = (parts[0], parts[1])
        direct, shared = self.direct_cost, self.shared_cost
        if direct is not None and shared is not None:
            parts = round_to_total({0: direct, 1: shared}, total)
            direct, shared = parts[0], parts[1]
        return replace(self, total=total, previous_total=to_cents(self.previous_total), untagged_cost=untagged,
                       groups=groups, direct_cost=direct, shared_cost=shared, group_split=split)


@dataclass(frozen=True)
class ChartSeries:
    """Spend per bucket (day, week or month: `days` holds each bucket's first day) stacked by `keys`
    (largest first, then "(other)"), for one answer; with what a reader needs to know of it: the metric, the
    period's first and last day, the total drawn and how fresh the data is. `labels` names keys for people
    (a resource's name for its id) where the answer knows better than the key."""

    title: str
    currency: str
    days: tuple[date, ...]
    keys: tuple[str, ...]
    values: dict[str, tuple[Decimal, ...]] = field(default_factory=dict)
    bucket: str = "day"
    metric: str = "EffectiveCost"
    first: date | None = None  # the period's first day
    last: date | None = None  # the period's last day (included)
    data_through: date | None = None
    labels: dict[str, str] = field(default_factory=dict)
    partial: tuple[bool, ...] = ()  # per bucket: a week or month the period or the data only partly covers

    @property
    def total(self) -> Decimal:
        return sum((v for values in self.values.values() for v in values), ZERO)

    def key_total(self, key: str) -> Decimal:
        return sum(self.values.get(key, ()), ZERO)


DAILY_BARS = 92  # a quarter of daily bars is as many as a chart (or a phone) shows legibly
WEEKLY_BARS = 106  # two years of weeks; longer spans have monthly bars


def chart_bucket(days: int) -> str:
    """The narrowest bucket that keeps a chart of `days` days legible: days up to a quarter, then weeks up to two
    years, then months."""
    if days <= DAILY_BARS:
        return "day"
    if days <= WEEKLY_BARS * 7:
        return "week"
    return "month"


def bucket_start(day: date, bucket: str) -> date:
    if bucket == "week":
        return day - timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    return day


def bucket_end(start: date, bucket: str) -> date:
    """The day after a bucket that starts on `start`."""
    if bucket == "week":
        return start + timedelta(days=7)
    if bucket == "month":
        return (start + timedelta(days=32)).replace(day=1)
    return start + timedelta(days=1)


def bucket_starts(first: date, last: date, bucket: str) -> tuple[date, ...]:
    """Every bucket from the one holding `first` to the one holding `last`."""
    out = []
    current = bucket_start(first, bucket)
    while current <= last:
        out.append(current)
        if bucket == "day":
            current += timedelta(days=1)
        elif bucket == "week":
            current += timedelta(days=7)
        else:
            current = (current + timedelta(days=32)).replace(day=1)
    return tuple(out)


def pin_question(text: str, asked_on: date) -> str:
    """A question as a button carries it: its text and the day it was asked, so that a click next week answers
    the dates the answer showed ("last-week" of that day), not the week of the click."""
    return json.dumps({"q": text, "on": asked_on.isoformat()}, separators=(",", ":"), ensure_ascii=False)


def unpin_question(value: str) -> tuple[str, date | None]:
    """(the question, the day it was asked) from a button's value; a plain question (a button made before
    questions were pinned, or App Home's) is asked as of today."""
    try:
        data = json.loads(value)
    except ValueError:
        return value, None
    if not isinstance(data, dict) or not isinstance(data.get("q"), str):
        return value, None
    try:
        return data["q"], date.fromisoformat(str(data.get("on")))
    except ValueError:
        return data["q"], None
