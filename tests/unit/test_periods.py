from datetime import date

import pytest

from bot.domain.errors import QueryError
from bot.domain.periods import resolve_period

TODAY = date(2026, 11, 28)  # a Saturday


@pytest.mark.parametrize(
    ("word", "start", "end", "prev_start", "prev_end"),
    [
        ("today", "2026-11-28", "2026-11-29", "2026-11-27", "2026-11-28"),
        ("yesterday", "2026-11-27", "2026-11-28", "2026-11-26", "2026-11-27"),
        ("this-week", "2026-11-23", "2026-11-29", "2026-11-16", "2026-11-22"),
        ("last-week", "2026-11-16", "2026-11-23", "2026-11-09", "2026-11-16"),
        ("this-month", "2026-11-01", "2026-11-29", "2026-10-01", "2026-10-29"),
        ("mtd", "2026-11-01", "2026-11-29", "2026-10-01", "2026-10-29"),
        ("last-month", "2026-10-01", "2026-11-01", "2026-09-01", "2026-10-01"),
        ("ytd", "2026-01-01", "2026-11-29", "2025-01-01", "2025-11-29"),
        ("last-7d", "2026-11-21", "2026-11-28", "2026-11-14", "2026-11-21"),
        ("last-30d", "2026-10-29", "2026-11-28", "2026-09-29", "2026-10-29"),
        ("2026-09", "2026-09-01", "2026-10-01", "2026-08-01", "2026-09-01"),
        ("2026-Q3", "2026-07-01", "2026-10-01", "2026-04-01", "2026-07-01"),
        ("2026-q1", "2026-01-01", "2026-04-01", "2025-10-01", "2026-01-01"),
        ("2026-11-03", "2026-11-03", "2026-11-04", "2026-11-02", "2026-11-03"),
        ("2026-11-01..2026-11-10", "2026-11-01", "2026-11-11", "2026-10-22", "2026-11-01"),
    ],
)
def test_period_words(word: str, start: str, end: str, prev_start: str, prev_end: str) -> None:
    p = resolve_period(word, TODAY)
    assert (p.start.isoformat(), p.end.isoformat()) == (start, end)
    assert (p.previous_start.isoformat(), p.previous_end.isoformat()) == (prev_start, prev_end)


def test_this_week_on_a_monday_is_one_day() -> None:
    p = resolve_period("this-week", date(2026, 11, 23))
    assert (p.start, p.end) == (date(2026, 11, 23), date(2026, 11, 24))
    assert (p.previous_start, p.previous_end) == (date(2026, 11, 16), date(2026, 11, 17))


def test_mtd_on_march_31_compares_with_all_of_february() -> None:
    p = resolve_period("mtd", date(2026, 3, 31))
    assert (p.previous_start, p.previous_end) == (date(2026, 2, 1), date(2026, 3, 1))


def test_year_boundary_for_last_month() -> None:
    p = resolve_period("last-month", date(2027, 1, 5))
    assert (p.start, p.end, p.previous_start) == (date(2026, 12, 1), date(2027, 1, 1), date(2026, 11, 1))


@pytest.mark.parametrize("word", ["2026-13", "2026-02-30", "2026-11-10..2026-11-01", "last-0d", "last-99999d"])
def test_invalid_periods_are_query_errors(word: str) -> None:
    with pytest.raises(QueryError) as exc:
        resolve_period(word, TODAY)
    assert exc.value.word == word


OUT_OF_RANGE = "is out of range: dates run from 1970-01-01 to 2999-12-31"


@pytest.mark.parametrize("word", ["9999-12-31", "0001-01-01", "9999-q4", "0000-01", "10000-01", "0000-q1",
                                  "10000-q1", "0000-01-01", "10000-01-01", "9999-12", "0001-01", "1969-12-31",
                                  "3000-01-01", "0001-01-01..2026-01-01", "2026-01-01..9999-12-31",
                                  "9999-12-31..9999-12-31", "1" + "0" * 5000 + "-01"])
def test_dates_beyond_the_supported_range_are_named(word: str) -> None:
    with pytest.raises(QueryError) as exc:
        resolve_period(word, TODAY)
    assert str(exc.value) == f"'{word}' {OUT_OF_RANGE}"
    assert exc.value.word == word


@pytest.mark.parametrize(("word", "start", "end", "prev_start"), [
    ("1970-01-01", "1970-01-01", "1970-01-02", "1969-12-31"),
    ("1970-01", "1970-01-01", "1970-02-01", "1969-12-01"),
    ("1970-q1", "1970-01-01", "1970-04-01", "1969-10-01"),
    ("2999-12-31", "2999-12-31", "3000-01-01", "2999-12-30"),
    ("2999-12", "2999-12-01", "3000-01-01", "2999-11-01"),
    ("2999-q4", "2999-10-01", "3000-01-01", "2999-07-01"),
    ("1970-01-01..2999-12-31", "1970-01-01", "3000-01-01", "0940-01-01"),  # the widest range
])
def test_the_ends_of_the_supported_range_resolve(word: str, start: str, end: str, prev_start: str) -> None:
    p = resolve_period(word, TODAY)
    assert (p.start.isoformat(), p.end.isoformat(), p.previous_start.isoformat()) == (start, end, prev_start)


def test_a_range_may_be_long_but_not_backwards() -> None:
    assert resolve_period("2016-12-01..2026-11-27", TODAY).days == 3649
    with pytest.raises(QueryError) as exc:
        resolve_period("2026-11-27..2016-12-01", TODAY)
    assert str(exc.value) == "'2026-11-27..2016-12-01': the range ends before it starts"
