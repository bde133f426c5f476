"""Period words of the query language resolved to [start, end) date ranges (UTC billing dates).

The comparison period: to-date periods (this-week, mtd, ytd, today) compare with the same span of the
previous week/month/year; whole calendar months, quarters and years with the previous one; day windows and
explicit ranges with the same number of days immediately before.

Up to the data: billing data runs through its last complete day, so a period that runs past it (`today`, `mtd`,
`this-week`, the current month) is cut there, and its comparison period is cut at the matching day (Nov 1–27 vs
Oct 1–27 when the data runs through Nov 27): `Period.through`. A comparison period the store only partly holds
is told apart (`Period.previous_coverage`) rather than compared as if it were whole.

Dates a user names must lie in MIN_DATE..MAX_DATE: far enough from the calendar's ends (years 1 and 9999) that
every period's end and comparison period can be computed, and outside it the error names the word.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Literal

from bot.domain.errors import NoData, QueryError

DEFAULT_PERIOD = "last-7d"

PERIOD_WORDS = ("today", "yesterday", "this-week", "last-week", "this-month", "mtd", "last-month", "ytd")
PERIOD_PATTERNS = ("last-Nd", "YYYY-MM", "YYYY-Qn", "YYYY-MM-DD", "YYYY-MM-DD..YYYY-MM-DD")

MIN_DATE = date(1970, 1, 1)
MAX_DATE = date(2999, 12, 31)
MAX_DAYS = 3660  # the longest last-Nd window (explicit ranges are bounded by the supported dates)

# ASCII digits only: `\d` also matches other scripts' digits, which int() reads but dates do not.
# Years take any number of digits so that `10000-01` is named as out of range rather than as an unknown word.
_LAST_N_DAYS = re.compile(r"^last-([0-9]{1,4})d$")
_MONTH = re.compile(r"^([0-9]{4,})-([0-9]{2})$")
_QUARTER = re.compile(r"^([0-9]{4,})-q([1-4])$")
_DAY = re.compile(r"^([0-9]{4,})-([0-9]{2})-([0-9]{2})$")
_RANGE = re.compile(r"^([0-9]{4,}-[0-9]{2}-[0-9]{2})\.\.([0-9]{4,}-[0-9]{2}-[0-9]{2})$")


@dataclass(frozen=True)
class Coverage:
    """The part of a period the store holds billing data for, when it holds less than all of it."""

    start: date
    end: date  # exclusive; start == end when it holds none of it
    days: int
    of_days: int


def _coverage(start: date, end: date, first_day: date, last_day: date) -> Coverage | None:
    lo, hi = max(start, first_day), min(end, last_day + timedelta(days=1))
    if lo <= start and hi >= end:
        return None
    held = max((hi - lo).days, 0)
    return Coverage(lo if held else start, hi if held else start, held, (end - start).days)


@dataclass(frozen=True)
class Period:
    """A half-open range of UTC billing dates and the range it is compared with. `step` says how a day of the
    period maps to its day in the comparison period (the same day N months, or N days, earlier)."""

    label: str
    start: date
    end: date  # exclusive
    previous_start: date
    previous_end: date  # exclusive
    step: tuple[Literal["days", "months"], int] = ("days", 0)
    whole_end: date | None = None  # when cut at the data's last day (`through`): the period's own end

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def cut(self) -> bool:
        """True when the period runs past the data and was cut at its last day."""
        return self.whole_end is not None

    def matching_day(self, day: date) -> date:
        """The day of the comparison period that `day` of this period is compared with."""
        unit, n = self.step
        return _shift_same_day(day, -n) if unit == "months" else day - timedelta(days=n)

    def through(self, last_day: date) -> Period:
        """The period up to the data's last complete day, compared with the same span of its comparison period
        (Nov 1–27 against Oct 1–27). Raises NoData when the period starts after the data ends."""
        if self.end <= last_day + timedelta(days=1):
            return self
        if self.start > last_day:
            raise NoData(f"no billing data yet for {self.label} (data through {last_day.isoformat()})")
        previous_end = min(self.previous_end, self.matching_day(last_day) + timedelta(days=1))
        return replace(self, end=last_day + timedelta(days=1), previous_end=max(previous_end, self.previous_start),
                       whole_end=self.end)

    def coverage(self, first_day: date, last_day: date) -> Coverage | None:
        """What the store holds of the period itself, when it does not hold all of it."""
        return _coverage(self.start, self.end, first_day, last_day)

    def previous_coverage(self, first_day: date, last_day: date) -> Coverage | None:
        """What the store holds of the comparison period, when it does not hold all of it: then the change is
        not like with like."""
        return _coverage(self.previous_start, self.previous_end, first_day, last_day)

    def describe(self) -> str:
        last = self.end - timedelta(days=1)
        if self.start == last:
            return f"{self.label} ({self.start.isoformat()})"
        return f"{self.label} ({self.start.isoformat()} – {last.isoformat()})"


def looks_like_period(word: str) -> bool:
    """True when the word has the shape of a period, valid or not (so errors can say 'bad period')."""
    w = word.lower()
    return (
        w in PERIOD_WORDS
        or bool(_LAST_N_DAYS.match(w) or _MONTH.match(w) or _QUARTER.match(w) or _DAY.match(w))
        or bool(_RANGE.match(w))
        or bool(re.match(r"^(last|this)-", w))
        or bool(re.match(r"^[0-9]{4,}-", w))
    )


def _add_months(d: date, months: int) -> date:
    index = d.year * 12 + (d.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


def _shift_same_day(d: date, months: int) -> date:
    """The same day-of-month `months` away, clamped to the month's last day."""
    first = _add_months(date(d.year, d.month, 1), months)
    next_first = _add_months(first, 1)
    last_day = (next_first - timedelta(days=1)).day
    return date(first.year, first.month, min(d.day, last_day))


def _out_of_range(word: str) -> QueryError:
    return QueryError(f"'{word}' is out of range: dates run from {MIN_DATE.isoformat()} to {MAX_DATE.isoformat()}",
                      word=word)


def _year(text: str, word: str) -> int:
    """A year a user typed, within MIN_DATE..MAX_DATE (checked on the text first: int() of a huge one fails)."""
    if len(text) != 4 or not MIN_DATE.year <= int(text) <= MAX_DATE.year:
        raise _out_of_range(word)
    return int(text)


def _parse_day(text: str, word: str) -> date:
    _year(text.partition("-")[0], word)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise QueryError(f"'{word}' is not a valid date (expected YYYY-MM-DD)", word=word) from None


def _before(start: date, end: date) -> tuple[date, date]:
    length = end - start
    return start - length, start


def resolve_period(word: str, today: date, data_through: date | None = None) -> Period:
    """Turn one period word into a Period relative to `today` (the configured timezone's date); with
    `data_through` (the data's last complete day), cut at it (`Period.through`)."""
    period = _calendar_period(word, today)
    return period.through(data_through) if data_through is not None else period


def _days(label: str, start: date, end: date, prev_start: date, prev_end: date, n: int) -> Period:
    return Period(label, start, end, prev_start, prev_end, ("days", n))


def _months(label: str, start: date, end: date, prev_start: date, prev_end: date, n: int) -> Period:
    return Period(label, start, end, prev_start, prev_end, ("months", n))


def _calendar_period(word: str, today: date) -> Period:
    w = word.lower()
    tomorrow = today + timedelta(days=1)
    if w == "today":
        return _days("today", today, tomorrow, today - timedelta(days=1), today, 1)
    if w == "yesterday":
        y = today - timedelta(days=1)
        return _days("yesterday", y, today, y - timedelta(days=1), y, 1)
    if w in ("this-week", "last-week"):
        monday = today - timedelta(days=today.weekday())
        if w == "this-week":
            return _days(w, monday, tomorrow, monday - timedelta(days=7), tomorrow - timedelta(days=7), 7)
        start = monday - timedelta(days=7)
        return _days(w, start, monday, start - timedelta(days=7), start, 7)
    if w in ("this-month", "mtd"):
        first = date(today.year, today.month, 1)
        prev_first = _add_months(first, -1)
        prev_end = min(_shift_same_day(today, -1) + timedelta(days=1), first)
        return _months(w, first, tomorrow, prev_first, prev_end, 1)
    if w == "last-month":
        first = _add_months(date(today.year, today.month, 1), -1)
        end = _add_months(first, 1)
        return _months(w, first, end, _add_months(first, -1), first, 1)
    if w == "ytd":
        first = date(today.year, 1, 1)
        prev_first = date(today.year - 1, 1, 1)
        prev_end = _shift_same_day(today, -12) + timedelta(days=1)
        return _months(w, first, tomorrow, prev_first, min(prev_end, first), 12)
    m = _LAST_N_DAYS.match(w)
    if m:
        n = int(m.group(1))
        if not 1 <= n <= MAX_DAYS:
            raise QueryError(f"'{word}': N must be between 1 and {MAX_DAYS} days", word=word)
        start = today - timedelta(days=n)
        return _days(w, start, today, *_before(start, today), n)
    m = _MONTH.match(w)
    if m:
        year, month = _year(m.group(1), word), int(m.group(2))
        if not 1 <= month <= 12:
            raise QueryError(f"'{word}' is not a valid month (expected YYYY-MM)", word=word)
        first = date(year, month, 1)
        return _months(w, first, _add_months(first, 1), _add_months(first, -1), first, 1)
    m = _QUARTER.match(w)
    if m:
        year, q = _year(m.group(1), word), int(m.group(2))
        first = date(year, 3 * (q - 1) + 1, 1)
        return _months(word.upper(), first, _add_months(first, 3), _add_months(first, -3), first, 3)
    m = _DAY.match(w)
    if m:
        d = _parse_day(w, word)
        return _days(w, d, d + timedelta(days=1), d - timedelta(days=1), d, 1)
    m = _RANGE.match(w)
    if m:
        start, last = _parse_day(m.group(1), word), _parse_day(m.group(2), word)
        if last < start:
            raise QueryError(f"'{word}': the range ends before it starts", word=word)
        end = last + timedelta(days=1)
        return _days(w, start, end, *_before(start, end), (end - start).days)
    suggestion = suggest_period(word)
    hint = (f" Did you mean '{suggestion}'?" if suggestion
            else f" Periods: {', '.join(PERIOD_WORDS)}, last-Nd, YYYY-MM, YYYY-Qn, YYYY-MM-DD")
    raise QueryError(f"unknown period '{word}'.{hint}", word=word, suggestion=suggestion)


#: what a mistyped period is compared with
PERIOD_VOCABULARY = (*PERIOD_WORDS, "last-7d", "last-30d", "last-90d")


def suggest_period(word: str) -> str | None:
    """The period word closest to a mistyped one (`last-weak` -> `last-week`)."""
    matches = difflib.get_close_matches(word.lower(), PERIOD_VOCABULARY, n=1, cutoff=0.6)
    return matches[0] if matches else None
