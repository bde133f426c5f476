"""`costbot status` recommends a query engine exactly when the store passes what one machine serves well."""

from __future__ import annotations

from datetime import date

from bot.domain.capacity import DAILY_ROWS, STORE_ROWS, warehouse_advice

YEAR = (date(2026, 1, 1), date(2026, 12, 31))  # 365 days


def test_a_year_of_100m_line_items_needs_no_warehouse() -> None:
    assert warehouse_advice(100_000_000, *YEAR) == ()


def test_an_empty_store_needs_none() -> None:
    assert warehouse_advice(0, None, None) == ()


def test_a_billion_line_items_get_the_advice() -> None:
    advice = warehouse_advice(STORE_ROWS, date(2024, 1, 1), date(2026, 12, 31))
    assert advice[0] == "the store holds 1,000,000,000 line items (one machine serves up to 1,000,000,000 well)"
    assert "athena" in advice[-1] and len(advice) == 2


def test_a_fast_daily_rate_gets_the_advice_before_the_store_is_large() -> None:
    days = 30
    advice = warehouse_advice(DAILY_ROWS * days, date(2026, 11, 1), date(2026, 11, 30))
    assert advice[0] == ("the billing data carries 5,000,000 line items a day (one machine ingests up to "
                         "5,000,000 a day well)")
    assert warehouse_advice(DAILY_ROWS * days - days, date(2026, 11, 1), date(2026, 11, 30)) == ()
