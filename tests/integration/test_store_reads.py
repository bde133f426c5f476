"""What the store reads once per change of its data (the first and last day, a column's values, resource names)
(and its tag keys and indexed tag columns) is read again after every write, through this store object or another
one on the same file."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from bot.adapters.duckdb_store import DuckDBCostStore
from tests.billing import Line, focus_year, write_focus


@pytest.fixture(scope="module")
def months(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return focus_year(tmp_path_factory.mktemp("year"), 6_000, months=3)


def test_reads_follow_every_write(months: list[Path], tmp_path: Path) -> None:
    path = tmp_path / "costs.duckdb"
    store = DuckDBCostStore(path)
    store.ingest_files([months[0]])
    assert (store.first_day(), store.freshness()) == (date(2026, 1, 1), date(2026, 1, 31))
    services = store.distinct_values("ServiceName")
    names = store.resource_names()
    assert services and names

    store.ingest_files([months[1]])  # this object's write
    assert (store.first_day(), store.freshness()) == (date(2026, 1, 1), date(2026, 2, 28))
    assert len(store.resource_names()) >= len(names)

    other = DuckDBCostStore(path)  # another object on the same file, as a second Application in one process
    other.ingest_files([months[2]])
    assert store.freshness() == date(2026, 3, 31)

    keys = store.tag_keys()
    assert "x-new-key" not in keys and "x-new-key" not in store.tag_columns()
    other.ingest_files([write_focus(tmp_path / "new-key.csv", [Line(date(2026, 3, 31), Decimal("1.25"),
                                                                    tags={"x-new-key": "v"})])], source="extra")
    assert store.tag_keys() == tuple(sorted((*keys, "x-new-key")))  # the other object's ingest, seen here
    other.index_tags(["x-new-key"])
    assert "x-new-key" in store.tag_columns()  # and its index
    other.clear_periods("extra", [("111122223333", date(2026, 3, 1))])

    store.clear_periods("focus", [("999900000000", date(2026, 3, 1)), ("999900000000", date(2026, 2, 1))])
    assert store.freshness() == other.freshness() == date(2026, 1, 31)
    assert store.distinct_values("ServiceName") == services  # January alone again
    assert store.resource_names() == names
    store.close()
    other.close()
