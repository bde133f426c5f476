"""The DuckDB store's daily rollup: line items summed per UTC day, account, service, region, category, charge
category and configured tag column, kept in step with the line items inside the same transaction.

A year of hourly resource-level billing is 10^8 line items; the questions people ask (a team, a project, by
service, by day) need only the day and these columns, so they read the rollup — tens of times fewer rows. The
rollup keeps the source and billing period, so an ingest replaces its (source, account, month) rows in both
tables alike. Its layout (the tag columns) is recorded in `store_meta`: when it changes, or a store from an
older version opens, the rollup is rebuilt from the line items, in place.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from bot.adapters.sources.columns import COST_COLUMNS, COST_TYPE, quote_ident
from bot.adapters.sql_compile import ROLLUP_COLUMNS, ROLLUP_MAPS, ROLLUP_TABLE

VERSION = "3"
_KEEP = (*ROLLUP_COLUMNS, *ROLLUP_MAPS, "x_Source", "x_BillingPeriod")


def layout(tag_columns: Sequence[str]) -> str:
    """What the rollup holds, as recorded in store_meta: a different layout means rebuild."""
    return ",".join([VERSION, *sorted(tag_columns)])


def _select(tag_columns: Sequence[str], relation: str = "costs") -> str:
    dims = ", ".join(quote_ident(c) for c in (*_KEEP, *sorted(tag_columns)))
    # the line items' own type: sums stay 64-bit integers (twice as fast to add up as 128-bit ones); a day's cost
    # of one account, service, region and tag set over $10^9 would fail the ingest loudly, never round
    sums = ", ".join(f"CAST(sum({quote_ident(c)}) AS {COST_TYPE}) AS {quote_ident(c)}" for c in COST_COLUMNS)
    return (f"SELECT date_trunc('day', ChargePeriodStart) AS ChargePeriodStart, {dims}, {sums}, "
            f"count(*) AS x_Rows FROM {relation} GROUP BY ALL ORDER BY 1")


def rebuild(con: duckdb.DuckDBPyConnection, tag_columns: Sequence[str]) -> None:
    """The rollup afresh from every line item (a new store, an older store's first open, a new tag column)."""
    con.execute(f"DROP TABLE IF EXISTS {ROLLUP_TABLE}")
    con.execute(f"CREATE TABLE {ROLLUP_TABLE} AS {_select(tag_columns)}")
    con.execute("INSERT OR REPLACE INTO store_meta VALUES ('rollup', ?)", [layout(tag_columns)])


def current(con: duckdb.DuckDBPyConnection, tag_columns: Sequence[str]) -> bool:
    row = con.execute("SELECT v FROM store_meta WHERE k = 'rollup'").fetchone()
    return row is not None and row[0] == layout(tag_columns)


def drop_replaced(con: duckdb.DuckDBPyConnection) -> None:
    """Remove the (source, account, month) periods in the temp table `replace_keys`, as the line items were."""
    con.execute(
        f"DELETE FROM {ROLLUP_TABLE} WHERE (x_Source, coalesce(BillingAccountId, ''), x_BillingPeriod) "
        "IN (SELECT src, account, period FROM replace_keys)"
    )


def add_ingested(con: duckdb.DuckDBPyConnection, tag_columns: Sequence[str], relation: str) -> None:
    """Roll up the line items this ingest wrote (`relation`), in date order: sorted, the day column compresses
    to runs and a one-week question reads one week's row groups (sorting costs ~5 % of an ingest)."""
    con.execute(f"INSERT INTO {ROLLUP_TABLE} BY NAME {_select(tag_columns, relation)}")
