"""Period words of the query language resolved to [start, end) date ranges (UTC billing dates).

The comparison period: to-date periods (this-week, mtd, ytd, today) compare with the same span of the
previous week/month/year; whole calendar months, quarters and years with the previous one; day windows and
explicit ranges with the same number of days immediately before.

Dates a user names must lie in MIN_DATE..MAX_DATE: far enough from the calendar's ends (years 1 and 9999) that
every period's end and comparison period can be computed, and outside it the error names the word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from bot.domain.errors import QueryError

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
class Period:
    """A half-open range of UTC billing dates and the range it is compared with."""

    label: str
    start: date
    end: date  # exclusive
    previous_start: date
    previous_end: date  # exclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days

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


def resolve_period(word: str, today: date) -> Period:
    """Turn one period word into a Period relative to `today` (the configured timezone's date)."""
    w = word.lower()
    tomorrow = today + timedelta(days=1)
    if w == "today":
        return Period("today", today, tomorrow, today - timedelta(days=1), today)
    if w == "yesterday":
        y = today - timedelta(days=1)
        return Period("yesterday", y, today, y - timedelta(days=1), y)
    if w in ("this-week", "last-week"):
        monday = today - timedelta(days=today.weekday())
        if w == "this-week":
            return Period(w, monday, tomorrow, monday - timedelta(days=7), tomorrow - timedelta(days=7))
        start = monday - timedelta(days=7)
        return Period(w, start, monday, start - timedelta(days=7), start)
    if w in ("this-month", "mtd"):
        first = date(today.year, today.month, 1)
        prev_first = _add_months(first, -1)
        prev_end = min(_shift_same_day(today, -1) + timedelta(days=1), first)
        return Period(w, first, tomorrow, prev_first, prev_end)
    if w == "last-month":
        first = _add_months(date(today.year, today.month, 1), -1)
        end = _add_months(first, 1)
        return Period(w, first, end, _add_months(first, -1), first)
    if w == "ytd":
        first = date(today.year, 1, 1)
        prev_first = date(today.year - 1, 1, 1)
        prev_end = _shift_same_day(today, -12) + timedelta(days=1)
        return Period(w, first, tomorrow, prev_first, min(prev_end, first))
    m = _LAST_N_DAYS.match(w)
    if m:
        n = int(m.group(1))
        if not 1 <= n <= MAX_DAYS:
            raise QueryError(f"'{word}': N must be between 1 and {MAX_DAYS} days", word=word)
        start = today - timedelta(days=n)
        return Period(w, start, today, *_before(start, today))
    m = _MONTH.match(w)
    if m:
        year, month = _year(m.group(1), word), int(m.group(2))
        if not 1 <= month <= 12:
            raise QueryError(f"'{word}' is not a valid month (expected YYYY-MM)", word=word)
        first = date(year, month, 1)
        return Period(w, first, _add_months(first, 1), _add_months(first, -1), first)
    m = _QUARTER.match(w)
    if m:
        year, q = _year(m.group(1), word), int(m.group(2))
        first = date(year, 3 * (q - 1) + 1, 1)
        return Period(word.upper(), first, _add_months(first, 3), _add_months(first, -3), first)
    m = _DAY.match(w)
    if m:
        d = _parse_day(w, word)
        return Period(w, d, d + timedelta(days=1), d - timedelta(days=1), d)
    m = _RANGE.match(w)
    if m:
        start, last = _parse_day(m.group(1), word), _parse_day(m.group(2), word)
        if last < start:
            raise QueryError(f"'{word}': the range ends before it starts", word=word)
        end = last + timedelta(days=1)
        return Period(w, start, end, *_before(start, end))
    raise QueryError(f"'{word}' is not a period", word=word)
