"""Line items kept as their billing files: a FOCUS Parquet file is copied, byte for byte, into the store's folder
(`costs.duckdb.items/` beside `costs.duckdb`) and read in place, instead of being rewritten into DuckDB's own table.

Rewriting a file into a table costs as much as DuckDB's whole `CREATE TABLE AS` (about 1 M rows/s on 2 cores);
copying it costs a disk copy, and Parquet already holds typed, compressed, date-ordered columns with row-group
statistics, so a one-week question still reads one week of it. The store's `costs` is a view: the rows DuckDB
holds (`line_items`: CSV files, CUR exports, what a later ingest kept of a replaced file) with every kept file's
mapping over it, so every reader sees one table of FOCUS columns.

The manifest (`item_files`, `item_periods`, `item_released`) lives in the DuckDB file and changes inside the
ingest transaction,
so an ingest is still all or nothing: a file copied in by an ingest that fails is deleted at once, and one left
by a process that died (in no manifest, untouched for an hour) by a later write. A file a later ingest replaces
leaves the manifest in that ingest's transaction and is deleted by a write ten minutes or more later: a
question that started before the replacement reads its snapshot, files included, to the end.
The view names the files by their full path, so the store can be opened as it is from anywhere (the DuckDB
shell included); a store moved with its folder is re-pointed when it is next opened for writing.

Reading a kept file costs each question that reads line items a pass over its tag maps; the long-lived service
folds kept files into `line_items` (tag columns materialized) once idle (`fold`, from
`DuckDBCostStore.compact_when_idle`), so the copy is the ingest's fast path, not the store's resting form.
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from bot.adapters.sources.columns import FOCUS_COLUMNS, quote_ident, quote_literal

ITEMS_TABLE = "line_items"
VIEW = "costs"
_FILES = ("CREATE TABLE IF NOT EXISTS item_files (name VARCHAR PRIMARY KEY, projection VARCHAR NOT NULL, "
          "source_file VARCHAR, row_count BIGINT, ingested_at TIMESTAMP)")
_PERIODS = ("CREATE TABLE IF NOT EXISTS item_periods (name VARCHAR NOT NULL, source VARCHAR NOT NULL, "
            "account VARCHAR NOT NULL, period DATE NOT NULL)")
_RELEASED = "CREATE TABLE IF NOT EXISTS item_released (name VARCHAR PRIMARY KEY, released_at TIMESTAMP NOT NULL)"
RELEASED_KEPT = timedelta(minutes=10)  # a replaced file outlives any question that could still be reading it
STRAY_AFTER = timedelta(hours=1)  # a file in no manifest this old was left by an ingest that died
RELATION = "__costbot_items_file__"  # where a projection reads its file: replaced with the file's `read_parquet`

TagValue = Callable[[str, Sequence[str]], str]  # (tags expression, spellings of one key) -> SQL


class ItemFiles:
    """The folder of kept billing files beside one store file, and its manifest in that store."""

    def __init__(self, store_path: str) -> None:
        store = Path(store_path).resolve()
        self.folder = store.with_name(store.name + ".items")  # as DuckDB's own spill folder, `<store>.tmp`
        # read_parquet reads a name with wildcard characters as a pattern: such a folder cannot be named in it
        self.usable = not any(c in str(self.folder) for c in "*?[]{}")

    @staticmethod
    def create_schema(con: duckdb.DuckDBPyConnection) -> None:
        con.execute(_FILES)
        con.execute(_PERIODS)
        con.execute(_RELEASED)

    def reader(self, name: str) -> str:
        """The kept file's scan."""
        return f"read_parquet({quote_literal(str(self.folder / name))})"

    def moved(self, con: duckdb.DuckDBPyConnection) -> bool:
        """Whether the view names files in another folder (the store was moved since it was last written)."""
        row = con.execute("SELECT v FROM store_meta WHERE k = 'items_folder'").fetchone()
        return row is None or row[0] != str(self.folder)

    # -- files ---------------------------------------------------------------------------------------
    def copy_in(self, path: Path) -> str:
        """Copy a billing file into the folder under a new name (not yet in any manifest); returns the name."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{uuid.uuid4().hex}.parquet"
        try:
            shutil.copyfile(path, self.folder / name)
        except BaseException:  # a partial copy (a full disk) goes at once
            self.discard([name])
            raise
        return name

    def discard(self, names: Iterable[str]) -> None:
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                (self.folder / name).unlink()

    def collect_garbage(self, con: duckdb.DuckDBPyConnection, now: datetime) -> int:
        """Delete the files replaced `RELEASED_KEPT` ago or more, and those in no manifest untouched for
        `STRAY_AFTER` (an ingest that died; one under way in this process copies its files in just now). Returns
        how many went."""
        if not self.folder.is_dir():
            return 0
        named = {str(n) for (n,) in con.execute("SELECT name FROM item_files").fetchall()}
        released = {str(n): at for n, at in con.execute("SELECT name, released_at FROM item_released").fetchall()}
        stale = []
        for f in self.folder.iterdir():
            if not f.is_file() or f.name in named:
                continue
            if f.name in released:
                if now - released[f.name] >= RELEASED_KEPT:
                    stale.append(f.name)
            elif now.timestamp() - f.stat().st_mtime >= STRAY_AFTER.total_seconds():
                stale.append(f.name)
        gone = [n for n in released if n in stale or not (self.folder / n).exists()]
        if gone:
            con.executemany("DELETE FROM item_released WHERE name = ?", [(n,) for n in gone])
        self.discard(stale)
        return len(stale)

    # -- manifest ------------------------------------------------------------------------------------
    @staticmethod
    def add(con: duckdb.DuckDBPyConnection, name: str, projection: str, source_file: Path, rows: int,
            ingested_at: datetime, periods: Iterable[tuple[str, str, object]]) -> None:
        con.execute("INSERT INTO item_files VALUES (?, ?, ?, ?, ?)",
                    [name, projection, source_file.name, rows, ingested_at])
        con.executemany("INSERT INTO item_periods VALUES (?, ?, ?, ?)",
                        [(name, source, account, period) for source, account, period in sorted(periods)])

    def branch(self, name: str, projection: str, indexed: dict[str, list[str]], tag_value: TagValue) -> str:
        """One kept file as FOCUS rows: its projection, with the indexed tag columns read from its tags."""
        tags = "".join(f", {tag_value('Tags', keys)} AS {quote_ident(col)}" for col, keys in indexed.items())
        head, found, tail = projection.rpartition(RELATION)  # the innermost relation: only `)` follow it
        assert found and not tail.strip(")"), "a kept file's projection ends with its relation"
        return f"SELECT *{tags} FROM ({head}{self.reader(name)}{tail})"

    def branches(self, con: duckdb.DuckDBPyConnection, indexed: dict[str, list[str]], tag_value: TagValue,
                 names: Iterable[str] | None = None) -> list[str]:
        """The kept files (or those named) as FOCUS rows, oldest first."""
        rows = con.execute("SELECT name, projection FROM item_files ORDER BY ingested_at, name").fetchall()
        wanted = None if names is None else set(names)
        return [self.branch(str(n), str(p), indexed, tag_value) for n, p in rows if wanted is None or n in wanted]

    def refresh_view(self, con: duckdb.DuckDBPyConnection, indexed: dict[str, list[str]],
                     tag_value: TagValue) -> None:
        """`costs` as the line items DuckDB holds and every kept file (inside the caller's transaction)."""
        parts = [f"SELECT * FROM {ITEMS_TABLE}", *self.branches(con, indexed, tag_value)]
        con.execute(f"CREATE OR REPLACE VIEW {VIEW} AS " + " UNION ALL BY NAME ".join(parts))
        con.execute("INSERT OR REPLACE INTO store_meta VALUES ('items_folder', ?)", [str(self.folder)])

    @staticmethod
    def oldest(con: duckdb.DuckDBPyConnection, skip: Iterable[str] = ()) -> str | None:
        """The kept file ingested first (but those in `skip`)."""
        for (name,) in con.execute("SELECT name FROM item_files ORDER BY ingested_at, name").fetchall():
            if name not in set(skip):
                return str(name)
        return None

    @staticmethod
    def deletions_due(con: duckdb.DuckDBPyConnection, now: datetime) -> int:
        """Replaced files whose `RELEASED_KEPT` is up (`collect_garbage` deletes them)."""
        row = con.execute("SELECT count(*) FROM item_released WHERE released_at <= ?", [now - RELEASED_KEPT]
                          ).fetchone()
        return int(row[0]) if row else 0

    def fold(self, con: duckdb.DuckDBPyConnection, name: str, indexed: dict[str, list[str]], tag_value: TagValue,
             now: datetime) -> None:
        """Move every row of one kept file into `line_items` (tag columns materialized) and take it out of the
        manifest: the rollup holds the same rows either way."""
        self._move(con, name, indexed, tag_value)
        self._take_out(con, name, now)

    def _move(self, con: duckdb.DuckDBPyConnection, name: str, indexed: dict[str, list[str]], tag_value: TagValue,
              where: str = "TRUE") -> None:
        """A kept file's rows (those `where` selects) into `line_items`, tag columns materialized."""
        (projection,) = con.execute("SELECT projection FROM item_files WHERE name = ?", [name]).fetchone() or ("",)
        columns = ", ".join(quote_ident(c) for c in (*FOCUS_COLUMNS, *indexed))
        con.execute(f"INSERT INTO {ITEMS_TABLE} ({columns}) SELECT {columns} FROM "
                    f"({self.branch(name, str(projection), indexed, tag_value)}) WHERE {where}")

    @staticmethod
    def _take_out(con: duckdb.DuckDBPyConnection, name: str, now: datetime) -> None:
        con.execute("DELETE FROM item_periods WHERE name = ?", [name])
        con.execute("DELETE FROM item_files WHERE name = ?", [name])
        con.execute("INSERT OR REPLACE INTO item_released VALUES (?, ?)", [name, now])

    def release(self, con: duckdb.DuckDBPyConnection, indexed: dict[str, list[str]], tag_value: TagValue,
                keys_table: str, now: datetime) -> list[str]:
        """Take out of the manifest every kept file holding a (source, account, month) in `keys_table` (columns
        src, account, period): what such a file holds of other periods moves into `line_items` first, so only the
        named periods go. Returns the files taken out (the view must then be refreshed)."""
        touched = [str(n) for (n,) in con.execute(
            f"SELECT DISTINCT name FROM item_periods WHERE (source, account, period) IN "
            f"(SELECT src, account, period FROM {keys_table}) ORDER BY 1").fetchall()]
        for name in touched:
            (left,) = con.execute(
                f"SELECT count(*) FROM item_periods WHERE name = ? AND (source, account, period) NOT IN "
                f"(SELECT src, account, period FROM {keys_table})", [name]).fetchone() or (0,)
            if left:
                self._move(con, name, indexed, tag_value, f"(x_Source, coalesce(BillingAccountId, ''), "
                           f"x_BillingPeriod) NOT IN (SELECT src, account, period FROM {keys_table})")
            self._take_out(con, name, now)
        return touched


def projection_sql(values: dict[str, str], relation: str) -> str:
    """A mapping's FOCUS columns over a relation (for a kept file: `RELATION`, which stands for its scan), each
    of the store's type (a column the file lacks is a typed NULL, so the view's branches line up)."""
    typed = {c: f"CAST(NULL AS {t})" if values.get(c, "NULL") == "NULL" else values[c]
             for c, t in FOCUS_COLUMNS.items()}
    return "SELECT " + ", ".join(f"{expr} AS {quote_ident(c)}" for c, expr in typed.items()) + f" FROM {relation}"


def ingested_at_literal(at: datetime) -> str:
    return f"TIMESTAMP {quote_literal(at.isoformat(sep=' '))}"
