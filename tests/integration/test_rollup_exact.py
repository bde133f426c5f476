"""The daily rollup answers exactly what the line items answer, to the cent, over every question shape; each
figure is also checked against plain Python over the generated Parquet. The rollup is kept inside the ingest
transaction (a rejected batch leaves it as it was, a re-ingest replaces), and a store from before it upgrades
in place."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from bot.adapters.duckdb_store import DuckDBCostStore
from bot.config import CostbotConfig, parse_config
from bot.domain.answers import CostAnswer
from bot.domain.errors import IngestError
from bot.domain.query import Query
from bot.domain.spec import OTHER, UNTAGGED
from bot.services.allocation import AllocationService
from bot.services.answers import AnswerService
from bot.services.scopes import ScopeResolver
from tests.billing import focus_year, year_generator
from tests.stores import copy_store

TODAY = year_generator().ASKED_ON  # the generated year is 2026; "last-…" periods end on its last day
ROWS = 120_000

QUESTIONS = year_generator().QUESTIONS
TEAMS = year_generator().TEAMS
COLUMNS = {"service": 1, "account": 2, "region": 3, "category": 4, "resource": 5}  # positions in a Row


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return focus_year(tmp_path_factory.mktemp("year"), ROWS)


@pytest.fixture(scope="module")
def config() -> CostbotConfig:
    return parse_config({"teams": {f"team-{t}": {"tags": {"team": t}} for t in TEAMS}})


@pytest.fixture(scope="module")
def store_path(year: list[Path], config: CostbotConfig, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("store") / "costs.duckdb"
    store = DuckDBCostStore(path, index_keys=config.indexed_tag_keys())
    store.ingest_files(year[:6])  # two ingests, as month-by-month loading does
    store.ingest_files(year[6:])
    store.close()
    return path


Row = tuple[datetime, str, str, str, str, str, Decimal, Decimal, dict[str, str]]


@pytest.fixture(scope="module")
def rows(year: list[Path]) -> list[Row]:
    """The generated line items as plain Python tuples, read straight from the Parquet files."""
    files = ", ".join(f"'{p}'" for p in year)
    return [(r[0], r[1], r[2], r[3], r[4], r[5], Decimal(r[6]), Decimal(r[7]), dict(r[8]))
            for r in duckdb.sql(f"SELECT ChargePeriodStart, ServiceName, SubAccountId, RegionId, ServiceCategory, "
                                f"ResourceId, EffectiveCost, BilledCost, Tags FROM read_parquet([{files}])").fetchall()]


def service_for(path: Path, config: CostbotConfig, rollups: bool) -> AnswerService:
    store = DuckDBCostStore(path, rollups=rollups)
    scopes = ScopeResolver(store, config)
    return AnswerService(store, scopes, AllocationService(store, scopes, config, store), config, lambda: TODAY)


def ask(service: AnswerService, text: str) -> CostAnswer:
    query = service.parse(text)
    assert isinstance(query, Query), text
    return service.answer(query)


# -- plain Python over the data ---------------------------------------------------------------------------------
def matches(row: Row, query: Query) -> bool:
    tags = row[8]
    for s in query.scopes:
        if s.kind == "team":
            ok = tags.get("team") == str(s.key).removeprefix("team-")
        elif s.kind == "untagged":
            ok = not tags.get("team")
        elif s.kind == "tag":
            ok = tags.get(str(s.key), "").lower() == str(s.value).lower()
        elif s.kind == "service":
            ok = str(s.value).lower() in row[1].lower()
        else:
            ok = row[COLUMNS[s.kind]].lower() == str(s.value).lower()
        if not ok:
            return False
    return True


def key_of(row: Row, dimension: str) -> str:
    day: date = row[0].date()
    if dimension == "team":
        return f"team-{row[8]['team']}" if row[8].get("team") else UNTAGGED
    if dimension in ("project", "model", "env"):
        return row[8].get(dimension) or UNTAGGED
    if dimension == "day":
        return day.isoformat()
    if dimension == "week":
        return (day - timedelta(days=day.weekday())).isoformat()
    if dimension == "month":
        return day.strftime("%Y-%m")
    return row[COLUMNS[dimension]]


def plain(rows: list[Row], query: Query, answer: CostAnswer) -> dict[str, Any]:
    """Total, previous total, untagged and every group, summed in Python over the rows in scope."""
    p = answer.period
    metric = 7 if query.billed else 6
    out: dict[str, Any] = {"total": Decimal(0), "previous": Decimal(0), "untagged": Decimal(0),
                           "groups": defaultdict(Decimal)}
    for row in rows:
        day = row[0].date()
        if not matches(row, query):
            continue
        if p.start <= day < p.end:
            out["total"] += row[metric]
            if not row[8].get("team"):
                out["untagged"] += row[metric]
            if query.by is not None:
                out["groups"][key_of(row, query.by.name)] += row[metric]
        elif p.previous_start <= day < p.previous_end:
            out["previous"] += row[metric]
    return out


# -- the tests --------------------------------------------------------------------------------------------------
def test_rollup_accounts_for_every_line_item(store_path: Path) -> None:
    con = duckdb.connect(str(store_path), read_only=True)
    items, summed, rolled = con.execute("SELECT (SELECT count(*) FROM costs), (SELECT sum(x_Rows) FROM daily_costs), "
                                        "(SELECT count(*) FROM daily_costs)").fetchone()  # type: ignore[misc]
    con.close()
    assert items == summed == ROWS
    assert 0 < rolled <= items  # far fewer at scale: bench/RESULTS.md


@pytest.mark.parametrize("text", QUESTIONS)
def test_rollup_answers_equal_line_items_and_plain_python(text: str, store_path: Path, rows: list[Row],
                                                          config: CostbotConfig) -> None:
    rolled = ask(service_for(store_path, config, rollups=True), text)
    items = ask(service_for(store_path, config, rollups=False), text)
    assert rolled == items  # every figure: total, previous, untagged, groups, drivers and movers
    query = rolled.query
    expected = plain(rows, query, rolled)
    assert expected["total"] > 0, text  # a question that finds spend, so the comparison means something
    assert (rolled.total, rolled.previous_total, rolled.untagged_cost) == (
        expected["total"], expected["previous"], expected["untagged"])
    if query.by is not None:
        groups = expected["groups"]
        shown = {g.key: g.cost for g in rolled.groups if g.key != OTHER}
        assert shown == {k: groups[k] for k in shown}
        if query.top is None:
            assert shown == dict(groups)
        else:
            assert sorted(groups.values(), reverse=True)[:query.top] == sorted(shown.values(), reverse=True)
        assert sum(g.cost for g in rolled.groups) == expected["total"]


def test_questions_the_rollup_holds_read_it_and_resource_questions_read_line_items(
        store_path: Path, config: CostbotConfig, tmp_path: Path) -> None:
    copy = tmp_path / "costs.duckdb"
    copy_store(store_path, copy)
    texts = ("team-ml 2026-Q3", "2026-Q1 by resource top 10")
    before = {t: ask(service_for(copy, config, rollups=True), t) for t in texts}
    con = duckdb.connect(str(copy))
    con.execute("UPDATE daily_costs SET EffectiveCost = EffectiveCost + 1")  # marks what reads the rollup
    con.close()
    after = {t: ask(service_for(copy, config, rollups=True), t) for t in before}
    assert after["team-ml 2026-Q3"].total > before["team-ml 2026-Q3"].total
    # the total of a `by resource` question is the rollup's; its groups come from the line items
    assert after["2026-Q1 by resource top 10"].total > before["2026-Q1 by resource top 10"].total
    assert [(g.key, g.cost) for g in after["2026-Q1 by resource top 10"].groups if g.key != OTHER] == [
        (g.key, g.cost) for g in before["2026-Q1 by resource top 10"].groups if g.key != OTHER]


def rollup_sums(path: Path, store: DuckDBCostStore | None = None) -> tuple[Any, ...]:
    con = store.cursor() if store else duckdb.connect(str(path), read_only=True)
    row = con.execute("SELECT count(*), sum(EffectiveCost), sum(BilledCost), sum(x_Rows) FROM daily_costs").fetchone()
    con.close()
    assert row is not None
    return tuple(row)


def test_a_rejected_batch_leaves_the_rollup_and_a_reingest_replaces(store_path: Path, year: list[Path],
                                                                     tmp_path: Path) -> None:
    copy = tmp_path / "costs.duckdb"
    copy_store(store_path, copy)
    before = rollup_sums(copy)
    bad = tmp_path / "bad.csv"
    bad.write_text("ChargePeriodStart,EffectiveCost,BilledCost,ServiceName\n2026-03-01,not-a-number,1,S3\n")
    store = DuckDBCostStore(copy)
    with pytest.raises(IngestError):
        store.ingest_files([year[2], bad])
    assert rollup_sums(copy, store) == before
    store.ingest_files([year[2]])  # March again: replaced, not added
    store.close()
    assert rollup_sums(copy) == before


def test_a_store_from_before_the_rollup_upgrades_in_place(store_path: Path, config: CostbotConfig,
                                                         tmp_path: Path) -> None:
    copy = tmp_path / "costs.duckdb"
    copy_store(store_path, copy)
    expected = rollup_sums(copy)
    con = duckdb.connect(str(copy))
    con.execute("DROP TABLE daily_costs")
    con.execute("DELETE FROM store_meta WHERE k = 'rollup'")
    con.close()
    answer = ask(service_for(copy, config, rollups=True), "2026-Q2 by team")
    assert rollup_sums(copy) == expected
    assert answer == ask(service_for(store_path, config, rollups=False), "2026-Q2 by team")


def test_a_new_tag_column_rebuilds_the_rollup(store_path: Path, config: CostbotConfig, tmp_path: Path) -> None:
    copy = tmp_path / "costs.duckdb"
    copy_store(store_path, copy)
    store = DuckDBCostStore(copy)
    assert store.index_tags(["owner"]) == ["owner"]
    store.close()
    con = duckdb.connect(str(copy), read_only=True)
    columns = {r[0] for r in con.execute("DESCRIBE daily_costs").fetchall()}
    owner = con.execute("SELECT col FROM tag_index WHERE k = 'owner'").fetchone()
    con.close()
    assert owner is not None and owner[0] in columns
    assert rollup_sums(copy) == rollup_sums(store_path)


@pytest.mark.parametrize("text", QUESTIONS)
def test_athena_push_down_returns_the_same_figures(text: str, store_path: Path, rows: list[Row],
                                                   config: CostbotConfig) -> None:
    """Each question as Athena receives it (Trino over the export's FOCUS view), read back into DuckDB over the
    same line items: the figures plain Python gives. Athena has no rollup: it scans the line items."""
    import sqlglot

    from bot.adapters import sql_compile
    from bot.adapters.athena_store import source_view, to_athena

    service = service_for(store_path, config, rollups=True)
    answer = ask(service, text)
    query, period = answer.query, answer.period
    spec = service.scopes.spec(query, period.start, period.end)
    grouping = service.scopes.grouping(query)
    if grouping is None:
        sql, params = sql_compile.totals_sql(spec, (period.previous_start, period.previous_end), ())
    else:
        sql, params = sql_compile.groups_sql(spec, grouping, ())
    trino = to_athena(sql, params, source_view("main", "costs"))
    back = sqlglot.transpile(trino, read="trino", write="duckdb")[0]
    con = service.queries.cursor()  # type: ignore[attr-defined]
    try:
        got = con.execute(back).fetchall()
    finally:
        con.close()
    expected = plain(rows, query, answer)
    if grouping is None:
        assert tuple(Decimal(v) for v in got[0]) == (expected["total"], expected["untagged"], expected["previous"])
    else:
        assert {str(k): Decimal(c) for k, c in got} == dict(expected["groups"])
