"""The embedded store's memory limit: from `store.memory_limit` or COSTBOT_DUCKDB_MEMORY into DuckDB, spilling
beside the store, and the same figures as a store without a limit."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.adapters.duckdb_store import DuckDBCostStore
from bot.app import Application
from bot.config import CostbotConfig, Settings, parse_config
from bot.domain.errors import ConfigError
from bot.domain.query import Query
from bot.services.allocation import AllocationService
from bot.services.answers import AnswerService
from bot.services.scopes import ScopeResolver
from tests.billing import focus_year

TODAY = date(2026, 4, 1)
QUESTIONS = ["2026-01-01..2026-03-31", "team-ml 2026-Q1 by service", "2026-02 by day",
             "2026-Q1 by resource top 10", "untagged 2026-03 by account"]


@pytest.fixture(scope="module")
def months(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return focus_year(tmp_path_factory.mktemp("year"), 60_000, months=3)


@pytest.fixture(scope="module")
def config() -> CostbotConfig:
    return parse_config({"teams": {f"team-{t}": {"tags": {"team": t}} for t in ("ml", "vision", "search")}})


def _setting(store: DuckDBCostStore, name: str) -> str:
    return str(store._fetch("SELECT current_setting($n)", {"n": name})[0][0])


def _answers(store: DuckDBCostStore, config: CostbotConfig) -> dict[str, object]:
    scopes = ScopeResolver(store, config)
    service = AnswerService(store, scopes, AllocationService(store, scopes, config, store), config, lambda: TODAY)
    out: dict[str, object] = {}
    for text in QUESTIONS:
        query = service.parse(text)
        assert isinstance(query, Query)
        out[text] = service.answer(query)
    return out


def test_a_bounded_store_gives_the_same_answers_and_spills_beside_itself(
        months: list[Path], config: CostbotConfig, tmp_path: Path) -> None:
    bounded = DuckDBCostStore(tmp_path / "a" / "costs.duckdb", index_keys=config.indexed_tag_keys(),
                              memory_limit="128MB")
    free = DuckDBCostStore(tmp_path / "b" / "costs.duckdb", index_keys=config.indexed_tag_keys())
    for month in months:  # month by month, as exports arrive
        assert bounded.ingest_files([month]) == free.ingest_files([month])
    assert _setting(bounded, "memory_limit") == "122.0 MiB"
    assert _setting(bounded, "temp_directory") == f"{tmp_path / 'a' / 'costs.duckdb'}.tmp"
    assert _setting(free, "memory_limit") != "122.0 MiB"
    assert bounded.row_count() == free.row_count() == 60_000
    assert _answers(bounded, config) == _answers(free, config)
    reader = DuckDBCostStore(tmp_path / "a" / "costs.duckdb", read_only=True, memory_limit="200MB")
    bounded.close()
    assert _setting(reader, "memory_limit") == "190.7 MiB"
    reader.close()
    free.close()


def test_the_limit_comes_from_the_config_and_the_environment_overrides_it(tmp_path: Path) -> None:
    def limit(env: dict[str, str], store: dict[str, object] | None = None) -> str:
        config = parse_config({"store": store} if store is not None else {})
        app = Application(Settings({"COSTBOT_DATA_DIR": str(tmp_path), **env}), config)
        assert app.cost_store is not None
        try:
            return str(app.cost_store._call("_fetch", "SELECT current_setting('memory_limit')", {})[0][0])
        finally:
            app.close()

    assert limit({}) == "953.6 MiB"  # the default, 1GB
    assert limit({}, {"memory_limit": "256MB"}) == "244.1 MiB"
    assert limit({"COSTBOT_DUCKDB_MEMORY": "512MiB"}, {"memory_limit": "256MB"}) == "512.0 MiB"
    with pytest.raises(ConfigError) as exc:
        Application(Settings({"COSTBOT_DATA_DIR": str(tmp_path), "COSTBOT_DUCKDB_MEMORY": "lots"}))
    assert str(exc.value) == "COSTBOT_DUCKDB_MEMORY: 'lots' is not a memory size such as 1GB, 512MB or 25%"


def _pool_bytes(store: DuckDBCostStore) -> int:
    con = store._root().cursor()  # not through cursor(): looking must not count as using the store
    try:
        return int(con.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()[0])  # type: ignore[index]
    finally:
        con.close()


def test_an_idle_store_gives_its_cached_pages_back_and_answers_the_same(
        months: list[Path], config: CostbotConfig, tmp_path: Path) -> None:
    store = DuckDBCostStore(tmp_path / "costs.duckdb", index_keys=config.indexed_tag_keys(), memory_limit="1GB")
    for month in months:
        store.ingest_files([month])
    before = _answers(store, config)
    working = _pool_bytes(store)
    assert working > 2**20  # the questions left pages in the buffer pool (a small store: a few MB)
    assert store.release_idle_memory(idle_seconds=3600, rest="2MB") is False  # used just now
    assert store.release_idle_memory(idle_seconds=0, rest="2MB") is True
    assert _pool_bytes(store) < working / 2
    assert store.release_idle_memory(idle_seconds=0, rest="2MB") is False  # not used since: nothing to give
    assert _setting(store, "memory_limit") == "953.6 MiB"  # the working limit is back
    assert _answers(store, config) == before
    with store._in_use():  # work in flight (a long read or an ingest): never under the rest limit
        assert store.release_idle_memory(idle_seconds=0, rest="2MB") is False
    _answers(store, config)
    assert store.release_idle_memory(idle_seconds=0, rest="1KB") is False  # below what is pinned: DuckDB refuses
    assert _setting(store, "memory_limit") == "953.6 MiB"  # and the working limit stays
    assert _answers(store, config) == before
    free = DuckDBCostStore(tmp_path / "free.duckdb")  # DuckDB's own limit is set back as it was
    default = _setting(free, "memory_limit")
    assert free.release_idle_memory(idle_seconds=0) is True and _setting(free, "memory_limit") == default
    store.close()
    free.close()


class _Releasing(DuckDBCostStore):
    """A store that tries the idle release at every cursor it opens: what it gets is what a release racing that
    statement would get."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.released_under: list[bool] = []

    def cursor(self):  # type: ignore[no-untyped-def]
        cur = super().cursor()
        self.released_under.append(self.release_idle_memory(idle_seconds=0, rest="2MB"))
        return cur


def test_no_statement_runs_under_an_idle_release(months: list[Path], tmp_path: Path) -> None:
    store = _Releasing(tmp_path / "costs.duckdb")
    store.cursor().close()  # opened: nothing in flight yet, so this one releases
    assert store.released_under == [True]
    store.released_under.clear()
    store.record_sync("cur")
    store.record_source_files("cur", {"a.csv": "etag-1"})
    assert store.tag_keys() == ()
    assert store.tag_columns() == {}
    store.ingest_files(months[:1])
    assert store.source_etags("cur") == {"a.csv": "etag-1"}
    assert store.released_under and not any(store.released_under)
    store.close()
    assert store.release_idle_memory(idle_seconds=0) is False  # closed: nothing to release, and no error


def test_a_long_lived_process_releases_the_store_when_idle(months: list[Path], tmp_path: Path) -> None:
    config = parse_config({"store": {"idle_release_seconds": 1}})
    app = Application(Settings({"COSTBOT_DATA_DIR": str(tmp_path), "COSTBOT_CONFIG": ""}), config)
    app.hold_store()
    try:
        assert app.cost_store is not None
        store = app.cost_store._current()
        assert isinstance(store, DuckDBCostStore)
        store.ingest_files(months[:1])
        assert store._released is False
        import time

        deadline = time.monotonic() + 30
        while not store._released and time.monotonic() < deadline:
            time.sleep(0.2)
        assert store._released is True
    finally:
        app.close()
    assert parse_config({}).store.idle_release_seconds == 60
