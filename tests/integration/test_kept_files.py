"""FOCUS Parquet files are kept as they are beside the store (`<store>.items/`) and read through the view `costs`:
the same figures as rows DuckDB holds, the same replace-by-period semantics, and still all or nothing."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from bot.adapters.duckdb_items import ItemFiles
from bot.adapters.duckdb_store import DuckDBCostStore
from bot.domain.errors import IngestError, StoreUnreadable
from tests.billing import Line, daily, write_cur2_parquet, write_focus, write_focus_parquet
from tests.conftest import CliResult
from tests.stores import copy_store

JAN, FEB, MAR = date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)
ML = {"team": "ml"}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _kept(store_path: Path) -> list[Path]:
    folder = ItemFiles(str(store_path)).folder
    return sorted(folder.iterdir()) if folder.is_dir() else []


def _by_month(store: DuckDBCostStore, table: str = "costs") -> dict[date, Decimal]:
    con = store.cursor()
    try:
        return {m.date() if hasattr(m, "date") else m: Decimal(c) for m, c in con.execute(
            f"SELECT date_trunc('month', ChargePeriodStart)::DATE, sum(EffectiveCost) FROM {table} GROUP BY 1 "
            "ORDER BY 1").fetchall()}
    finally:
        con.close()


def _manifest(store: DuckDBCostStore) -> list[tuple[str, int]]:
    con = store.cursor()
    try:
        return [(str(f), int(n)) for f, n in con.execute(
            "SELECT source_file, row_count FROM item_files ORDER BY source_file").fetchall()]
    finally:
        con.close()


def test_a_parquet_file_is_kept_byte_for_byte_and_read_in_place(tmp_path: Path) -> None:
    lines = daily(JAN, FEB, "1.25", tags=ML) + daily(JAN, FEB, "0.10", resource="vol-1")
    source = write_focus_parquet(tmp_path / "in" / "jan.parquet", lines)
    store_path = tmp_path / "data" / "costs.duckdb"
    store = DuckDBCostStore(store_path, index_keys=["team"])
    summary = store.ingest_files([source])
    assert (summary.rows, summary.effective_cost) == (62, Decimal("41.85"))  # 31 × 1.25 + 31 × 0.10
    kept = _kept(store_path)
    assert len(kept) == 1 and _digest(kept[0]) == _digest(source)
    assert _manifest(store) == [("jan.parquet", 62)]
    source.unlink()  # the store reads its own copy
    assert store.row_count() == 62
    assert _by_month(store) == {JAN: Decimal("41.85")} == _by_month(store, "daily_costs")
    con = store.cursor()
    assert con.execute("SELECT sum(EffectiveCost) FROM costs WHERE x_tag_0 = 'ml'").fetchone() == (
        Decimal("38.750000000"),)  # the indexed tag column, read from the file's tags
    con.close()
    store.close()
    # the DuckDB shell (or any process) opens the store as it is: the view names the files by their full path
    shell = duckdb.connect(str(store_path), read_only=True)
    assert shell.execute("SELECT count(*), sum(EffectiveCost) FROM costs").fetchone() == (62, Decimal("41.85"))
    shell.close()


def test_reingesting_replaces_the_kept_file_and_a_later_write_deletes_it(tmp_path: Path) -> None:
    store_path = tmp_path / "costs.duckdb"
    store = DuckDBCostStore(store_path)
    first = write_focus_parquet(tmp_path / "v1" / "jan.parquet", daily(JAN, FEB, "1.00"))
    second = write_focus_parquet(tmp_path / "v2" / "jan.parquet", daily(JAN, FEB, "2.00"))
    store.ingest_files([first])
    store.ingest_files([second])
    assert _by_month(store) == {JAN: Decimal("62.00")} == _by_month(store, "daily_costs")  # never 93.00
    store.ingest_files([write_focus(tmp_path / "feb.csv", daily(FEB, MAR, "3.00"))])
    assert len(_kept(store_path)) == 2  # the replaced copy stays ten minutes (a question may be reading it)
    con = store.cursor()
    con.execute("UPDATE item_released SET released_at = released_at - INTERVAL 10 MINUTE")
    con.close()
    store.ingest_files([write_focus(tmp_path / "mar.csv", daily(MAR, date(2026, 4, 1), "1.00"))])
    assert [_digest(p) for p in _kept(store_path)] == [_digest(second)]
    assert _by_month(store) == {JAN: Decimal("62.00"), FEB: Decimal("84.00"), MAR: Decimal("31.00")}


def test_replacing_one_month_of_a_kept_file_keeps_its_other_months(tmp_path: Path) -> None:
    store_path = tmp_path / "costs.duckdb"
    store = DuckDBCostStore(store_path, index_keys=["team"])
    both = write_focus_parquet(tmp_path / "jan-feb.parquet", daily(JAN, MAR, "1.00", tags=ML))
    store.ingest_files([both])
    store.ingest_files([write_focus_parquet(tmp_path / "feb.parquet", daily(FEB, MAR, "5.00", tags=ML))])
    expected = {JAN: Decimal("31.00"), FEB: Decimal("140.00")}
    assert _by_month(store) == expected == _by_month(store, "daily_costs")
    assert _manifest(store) == [("feb.parquet", 28)]  # January moved into the rows DuckDB holds
    assert _by_month(store, "line_items") == {JAN: Decimal("31.00")}
    con = store.cursor()
    assert con.execute("SELECT count(*) FROM line_items WHERE x_tag_0 = 'ml'").fetchone() == (31,)
    con.close()
    store.clear_periods("focus", [("111122223333", FEB)])  # a re-read found February empty
    assert _by_month(store) == {JAN: Decimal("31.00")} == _by_month(store, "daily_costs")
    assert _manifest(store) == []


def test_a_rejected_batch_keeps_no_file_and_changes_nothing(tmp_path: Path) -> None:
    store_path = tmp_path / "costs.duckdb"
    store = DuckDBCostStore(store_path)
    store.ingest_files([write_focus_parquet(tmp_path / "jan.parquet", daily(JAN, FEB, "1.00"))])
    before = (_kept(store_path), _manifest(store), _by_month(store))
    good = write_focus_parquet(tmp_path / "batch" / "a-feb.parquet", daily(FEB, MAR, "7.00"))
    bad = write_focus(tmp_path / "batch" / "b-bad.csv", [Line(FEB, Decimal("1"))])
    bad.write_text(bad.read_text().replace("2026-02-01T00:00:00Z,2026-02-02", "yesterday,2026-02-02"))
    with pytest.raises(IngestError) as exc:
        store.ingest_files([good, bad])
    assert "b-bad.csv, row 1, column ChargePeriodStart" in str(exc.value)
    assert (_kept(store_path), _manifest(store), _by_month(store)) == before


def test_an_error_in_a_kept_file_names_the_users_file(tmp_path: Path) -> None:
    source = write_focus_parquet(tmp_path / "jan.parquet", daily(JAN, FEB, "1.00"))
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(source.read_bytes()[:-64])
    store_path = tmp_path / "costs.duckdb"
    with pytest.raises(IngestError) as exc:
        DuckDBCostStore(store_path).ingest_files([broken])
    assert exc.value.path == str(broken) and ".items" not in str(exc.value)
    assert _kept(store_path) == []


def test_files_no_manifest_names_are_deleted_at_the_next_write(tmp_path: Path) -> None:
    store_path = tmp_path / "costs.duckdb"
    store = DuckDBCostStore(store_path)
    store.ingest_files([write_focus_parquet(tmp_path / "jan.parquet", daily(JAN, FEB, "1.00"))])
    folder = ItemFiles(str(store_path)).folder
    stray, fresh = folder / "left-by-a-killed-ingest.parquet", folder / "an-ingest-under-way.parquet"
    shutil.copy(tmp_path / "jan.parquet", stray)
    shutil.copy(tmp_path / "jan.parquet", fresh)
    an_hour_ago = time.time() - 3601
    os.utime(stray, (an_hour_ago, an_hour_ago))
    assert store.row_count() == 31  # not read: the view names only what the manifest holds
    store.ingest_files([write_focus(tmp_path / "feb.csv", daily(FEB, MAR, "1.00"))])
    assert not stray.exists() and fresh.exists() and len(_kept(store_path)) == 2


class _CheckpointFails(DuckDBCostStore):
    def _checkpoint(self) -> None:
        raise RuntimeError("the disk filled up after the commit")


def test_a_failure_after_the_commit_keeps_the_committed_files(tmp_path: Path) -> None:
    store_path = tmp_path / "costs.duckdb"
    store = _CheckpointFails(store_path)
    with pytest.raises(RuntimeError):
        store.ingest_files([write_focus_parquet(tmp_path / "jan.parquet", daily(JAN, FEB, "1.00"))])
    assert len(_kept(store_path)) == 1 and _manifest(store) == [("jan.parquet", 31)]
    assert _by_month(store) == {JAN: Decimal("31.00")} == _by_month(store, "daily_costs")


def test_a_moved_store_reads_its_files_from_the_new_place(tmp_path: Path) -> None:
    old = tmp_path / "old" / "costs.duckdb"
    store = DuckDBCostStore(old)
    store.ingest_files([write_focus_parquet(tmp_path / "jan.parquet", daily(JAN, FEB, "1.50"))])
    store.close()
    new = tmp_path / "new" / "costs.duckdb"
    shutil.move(old.parent, new.parent)
    with pytest.raises(StoreUnreadable) as exc:  # read-only, the view still names the old folder
        DuckDBCostStore(new, read_only=True).row_count()
    assert "was moved: open it for writing once" in str(exc.value)
    moved = DuckDBCostStore(new)
    assert _by_month(moved) == {JAN: Decimal("46.50")}
    moved.close()
    assert _by_month(DuckDBCostStore(new, read_only=True)) == {JAN: Decimal("46.50")}
    wild = copy_store(new, tmp_path / "backup [1]" / "costs.duckdb")
    with pytest.raises(StoreUnreadable) as exc:  # read_parquet would read `[1]` as a pattern
        DuckDBCostStore(wild).row_count()
    assert "holds a wildcard character" in str(exc.value)


def test_stores_side_by_side_keep_their_files_apart(tmp_path: Path) -> None:
    one, two = DuckDBCostStore(tmp_path / "costs"), DuckDBCostStore(tmp_path / "costs.duckdb")
    one.ingest_files([write_focus_parquet(tmp_path / "a.parquet", daily(JAN, FEB, "1.00"))])
    two.ingest_files([write_focus_parquet(tmp_path / "b.parquet", daily(JAN, FEB, "2.00"))])
    two.ingest_files([write_focus_parquet(tmp_path / "c.parquet", daily(JAN, FEB, "3.00"))])
    assert _by_month(one) == {JAN: Decimal("31.00")} and _by_month(two) == {JAN: Decimal("93.00")}


def test_a_store_from_before_kept_files_opens_with_its_rows(tmp_path: Path) -> None:
    store_path = tmp_path / "costs.duckdb"
    store = DuckDBCostStore(store_path)
    store.ingest_files([write_focus(tmp_path / "jan.csv", daily(JAN, FEB, "2.00"))])
    store.close()
    con = duckdb.connect(str(store_path))  # as an older version left it: the line items in the table `costs`
    con.execute("DROP VIEW costs")
    con.execute("ALTER TABLE line_items RENAME TO costs")
    for table in ("daily_costs", "item_files", "item_periods", "item_released"):
        con.execute(f"DROP TABLE {table}")
    con.execute("DELETE FROM store_meta WHERE k IN ('rollup', 'items_folder')")
    con.close()
    old = DuckDBCostStore(store_path, read_only=True)  # read-only, as it is: from its line items
    assert old.row_count() == 31
    old.close()
    reopened = DuckDBCostStore(store_path)
    assert _by_month(reopened) == {JAN: Decimal("62.00")} == _by_month(reopened, "daily_costs")
    reopened.ingest_files([write_focus_parquet(tmp_path / "feb.parquet", daily(FEB, MAR, "1.00"))])
    assert _by_month(reopened) == {JAN: Decimal("62.00"), FEB: Decimal("28.00")}


def test_questions_during_back_to_back_ingests_read_whole_snapshots(tmp_path: Path) -> None:
    store = DuckDBCostStore(tmp_path / "costs.duckdb", threads=1)
    versions = [write_focus_parquet(tmp_path / f"v{i}" / "jan.parquet", daily(JAN, FEB, f"{i + 1}.00") * 50)
                for i in range(3)]
    store.ingest_files([versions[0]])
    valid = {Decimal(31 * 50 * (i + 1)) for i in range(3)}
    stop, totals, errors = threading.Event(), [], []

    def ask() -> None:
        while not stop.is_set():
            con = store.cursor()
            try:
                totals.append(con.execute("SELECT sum(EffectiveCost) FROM costs").fetchone()[0])  # type: ignore[index]
            except duckdb.Error as exc:
                errors.append(str(exc))
            finally:
                con.close()

    readers = [threading.Thread(target=ask) for _ in range(2)]
    for reader in readers:
        reader.start()
    for i in range(12):  # a sync of several sources ingests one after another
        store.ingest_files([versions[i % 3]])
    stop.set()
    for reader in readers:
        reader.join()
    assert errors == [] and totals and set(totals) <= valid


def test_an_idle_store_folds_its_kept_files_into_its_table(tmp_path: Path) -> None:
    store_path = tmp_path / "costs.duckdb"
    store = DuckDBCostStore(store_path, index_keys=["team"])
    store.ingest_files([write_focus_parquet(tmp_path / "jan.parquet", daily(JAN, FEB, "1.00", tags=ML))])
    store.ingest_files([write_focus_parquet(tmp_path / "feb.parquet", daily(FEB, MAR, "2.00"))])
    expected = {JAN: Decimal("31.00"), FEB: Decimal("56.00")}
    assert store.compact_when_idle(3600) is False  # used just now
    assert store.compact_when_idle(0) is True  # the oldest first
    assert _manifest(store) == [("feb.parquet", 28)]
    assert _by_month(store, "line_items") == {JAN: Decimal("31.00")}
    con = store.cursor()
    assert con.execute("SELECT count(*) FROM line_items WHERE x_tag_0 = 'ml'").fetchone() == (31,)
    con.close()
    assert _by_month(store) == expected == _by_month(store, "daily_costs")
    assert store.compact_when_idle(0) is True and store.compact_when_idle(0) is False  # nothing left to fold
    assert _manifest(store) == [] and _by_month(store, "line_items") == expected == _by_month(store)


def test_the_service_folds_kept_files_once_idle(tmp_path: Path) -> None:
    from bot.adapters.shared_store import SharedCostStore

    store_path = tmp_path / "costs.duckdb"
    shared = SharedCostStore(lambda: DuckDBCostStore(store_path), tmp_path / "costbot.sock")
    shared.ingest_files([write_focus_parquet(tmp_path / "jan.parquet", daily(JAN, FEB, "1.00"))])
    shared.rest_when_idle(0.2)  # what `serve` and `scheduler` start, with store.idle_release_seconds
    deadline, left = time.monotonic() + 30, None
    while left != (0,) and time.monotonic() < deadline:
        time.sleep(0.2)
        look = duckdb.connect(str(store_path))  # this process's database, without using the store (not a use)
        left = look.execute("SELECT count(*) FROM item_files").fetchone()
        look.close()
    assert left == (0,)
    assert shared.row_count() == 31 and shared.sources() == [("focus", 31)]
    shared.close()


def test_a_cur_parquet_export_is_read_into_the_table(tmp_path: Path) -> None:
    cur = write_cur2_parquet(tmp_path / "cur2.parquet", """
        ('999', '111', TIMESTAMP '2026-06-01', 'Usage', TIMESTAMP '2026-06-10 00:00', TIMESTAMP '2026-06-10 01:00',
         'AmazonS3', 1.25::DOUBLE, 'USD', 'Amazon Simple Storage Service', MAP {'user_team': 'data'})""")
    store_path = tmp_path / "data" / "costs.duckdb"
    store = DuckDBCostStore(store_path)
    store.ingest_files([cur])
    assert _kept(store_path) == [] and _manifest(store) == []  # its mapping runs windows over the file: not kept
    assert _by_month(store, "line_items") == {date(2026, 6, 1): Decimal("1.25")}


def test_an_idle_store_with_nothing_to_fold_still_rests(tmp_path: Path) -> None:
    store = DuckDBCostStore(tmp_path / "costs.duckdb")
    store.ingest_files([write_focus_parquet(tmp_path / "jan.parquet", daily(JAN, FEB, "1.00"))])
    assert store.compact_when_idle(0) is True
    assert store.compact_when_idle(0) is False  # nothing left: looking is not a use of the store
    assert store.release_idle_memory(0) is True  # so the rest thread's release comes next


class _FoldFails(DuckDBCostStore):
    def _refresh_view(self, con: duckdb.DuckDBPyConnection) -> None:
        if getattr(self, "fail_folds", False):
            raise duckdb.IOException("the kept file cannot be read")
        super()._refresh_view(con)


def test_a_file_that_cannot_be_folded_is_skipped_and_nothing_changes(tmp_path: Path) -> None:
    store = _FoldFails(tmp_path / "costs.duckdb")
    store.ingest_files([write_focus_parquet(tmp_path / "jan.parquet", daily(JAN, FEB, "1.00"))])
    store.ingest_files([write_focus_parquet(tmp_path / "feb.parquet", daily(FEB, MAR, "2.00"))])
    store.fail_folds = True  # type: ignore[attr-defined]
    with pytest.raises(duckdb.IOException):
        store.compact_when_idle(0)
    assert _manifest(store) == [("feb.parquet", 28), ("jan.parquet", 31)]  # rolled back
    store.fail_folds = False  # type: ignore[attr-defined]
    assert store.compact_when_idle(0) is True  # January is skipped from now on: February's turn
    assert _manifest(store) == [("jan.parquet", 31)]
    assert store.compact_when_idle(0) is False
    assert _by_month(store) == {JAN: Decimal("31.00"), FEB: Decimal("56.00")} == _by_month(store, "daily_costs")


def test_costbot_fold_folds_what_the_store_keeps(cli: Callable[..., CliResult], data_dir: Path,
                                                 tmp_path: Path) -> None:
    lines = daily(JAN, FEB, "1.25", tags=ML, resource="i-gpu") + daily(JAN, FEB, "0.50", resource="vol-1")
    assert cli("ingest", str(write_focus_parquet(tmp_path / "jan.parquet", lines))).code == 0
    before = cli("ask", "team-ml 2026-01 by resource", "--json")
    assert before.code == 0 and before.json()["total"] == 38.75  # 31 × 1.25
    result = cli("fold")
    assert (result.code, result.out.split(" in ")[0]) == (0, "Folded 1 billing file into the store's table")
    assert cli("ask", "team-ml 2026-01 by resource", "--json").json() == before.json()
    store = DuckDBCostStore(data_dir / "costs.duckdb")
    assert _manifest(store) == [] and _by_month(store, "line_items") == {JAN: Decimal("54.25")}
    store.close()
    assert cli("fold").out.strip() == "The store keeps no billing files to fold."
