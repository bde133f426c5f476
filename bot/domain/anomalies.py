"""Anomaly detection: a day's spend against a robust, weekday-aware baseline.

The baseline of a day is the median of the same kind of day (weekday or weekend) over the previous 28 days,
and its spread the MAD of those days. A day is anomalous when it is above the baseline by more than a
relative threshold, an absolute threshold, and three robust standard deviations (1.4826 × MAD): ordinary
weekly seasonality is inside the baseline, a doubling is not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from statistics import median

from bot.domain.money import ZERO
from bot.domain.periods import Period

MAD_SCALE = Decimal("1.4826")
CONTINUES_DAYS = 7  # an anomaly with the same cause within a week continues the earlier one: no new alert


@dataclass(frozen=True)
class AnomalyRules:
    relative: Decimal = Decimal("0.5")  # +50 %
    absolute: Decimal = Decimal("50")  # per day, in the currency
    sigmas: Decimal = Decimal("3")
    lookback_days: int = 28


@dataclass(frozen=True)
class Baseline:
    median: Decimal
    mad: Decimal


@dataclass(frozen=True)
class Cause:
    """A resource (and usage type) that explains part of an increase."""

    resource_id: str
    name: str
    usage_type: str | None
    actual: Decimal
    usual: Decimal
    owner: str | None = None

    @property
    def increase(self) -> Decimal:
        return self.actual - self.usual

    @property
    def per_hour(self) -> Decimal:
        return self.actual / 24


@dataclass(frozen=True)
class Anomaly:
    team: str
    service: str
    day: date
    actual: Decimal
    baseline: Decimal
    causes: tuple[Cause, ...] = field(default=())
    id: int | None = None
    status: str = "open"  # open | acknowledged

    @property
    def increase(self) -> Decimal:
        return self.actual - self.baseline

    @property
    def ratio(self) -> Decimal | None:
        return self.actual / self.baseline if self.baseline else None


def _same_kind(a: date, b: date) -> bool:
    return (a.weekday() >= 5) == (b.weekday() >= 5)


def baseline(series: Mapping[date, Decimal], day: date, lookback: int = 28) -> Baseline:
    values = [series.get(day - timedelta(days=i), ZERO) for i in range(1, lookback + 1)
              if _same_kind(day - timedelta(days=i), day)]
    if not values:
        return Baseline(ZERO, ZERO)
    mid = Decimal(median(values))
    mad = Decimal(median([abs(v - mid) for v in values]))
    return Baseline(mid, mad)


def is_anomalous(actual: Decimal, base: Baseline, rules: AnomalyRules) -> bool:
    excess = actual - base.median
    return (excess > base.median * rules.relative and excess > rules.absolute
            and excess > rules.sigmas * MAD_SCALE * base.mad)


def detect(series_by_key: Mapping[tuple[str, str], Mapping[date, Decimal]], day: date,
           rules: AnomalyRules) -> list[Anomaly]:
    """Anomalies on `day` for every (team, service) series, largest increase first."""
    found = []
    for (team, service), series in series_by_key.items():
        actual = series.get(day, ZERO)
        base = baseline(series, day, rules.lookback_days)
        if is_anomalous(actual, base, rules):
            found.append(Anomaly(team, service, day, actual, base.median))
    return sorted(found, key=lambda a: (-a.increase, a.team, a.service))


def explain(resources: Mapping[tuple[str, str, str | None], Mapping[date, Decimal]], day: date,
            lookback: int = 28, top: int = 3) -> tuple[Cause, ...]:
    """The resources (and usage types) whose spend on `day` rose most above their own baseline."""
    causes = []
    for (rid, name, usage), series in resources.items():
        actual = series.get(day, ZERO)
        usual = baseline(series, day, lookback).median
        if actual > usual:
            causes.append(Cause(rid, name, usage, actual, usual))
    causes.sort(key=lambda c: (-c.increase, c.resource_id))
    return tuple(causes[:top])


def continues(a: Anomaly, earlier: Sequence[Anomaly]) -> bool:
    """The same team, service and leading cause within a week before: the same anomaly going on, not a new one."""
    top = a.causes[0].resource_id if a.causes else None
    return any(r.team == a.team and r.service == a.service and a.day - timedelta(days=CONTINUES_DAYS) <= r.day < a.day
               and (r.causes[0].resource_id if r.causes else None) == top for r in earlier)


@dataclass(frozen=True)
class AnomalyFindings:
    """The anomalies of a scope over a period (evaluated on demand by the same rules as the alerts), with what is
    known of each from its alert (id, acknowledged)."""

    scope_label: str
    period: Period
    anomalies: tuple[Anomaly, ...]
