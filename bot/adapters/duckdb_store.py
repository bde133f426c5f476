"""The embedded cost store: one DuckDB file of FOCUS line items, and the FOCUS Parquet files it keeps as they
are beside it (`duckdb_items`); readers see both as the view `costs`.

Every ingest is one transaction: files are validated first (a bad row rejects its file, and the batch, with
file/row/column named), then the billing periods they carry are replaced (same source, billing account and
month), so re-ingesting never double counts. Readers use a cursor per call, so threads can share the store.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from bot.adapters import duckdb_rollup, sql_compile
from bot.adapters.duckdb_items import ITEMS_TABLE, RELATION, VIEW, ItemFiles, ingested_at_literal, projection_sql
from bot.adapters.sources.columns import (
    COST_TYPE,
    FOCUS_COLUMNS,
    number_expr,
    quote_ident,
    quote_literal,
    text_expr,
    timestamp_expr,
)
from bot.adapters.sources.formats import format_for
from bot.adapters.sources.mapping import Check, ColumnIndex, Mapping
from bot.adapters.sources.raw_files import RawColumn, RawFile, describe_duckdb_error, discover, open_file
from bot.domain.commitments import Commitment, CommitmentReport
from bot.domain.errors import IngestError, SourceOverlap, StoreBusy, StoreUnreadable
from bot.domain.figures import DailyRow, Totals
from bot.domain.ingest import IngestSummary, SourceHolding, overlap_message
from bot.domain.spec import CostSpec, Grouping

ProgressCallback = Callable[[Path, int, int], None]  # file, index, count

_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {ITEMS_TABLE} ("
    + ", ".join(f"{quote_ident(c)} {t}" for c, t in FOCUS_COLUMNS.items())
    + ")"
)
_META = "CREATE TABLE IF NOT EXISTS store_meta (k VARCHAR PRIMARY KEY, v VARCHAR)"
_TAG_KEYS = "CREATE TABLE IF NOT EXISTS tag_keys (k VARCHAR PRIMARY KEY)"
_USAGE = ("CREATE TABLE IF NOT EXISTS usage (day DATE NOT NULL, team VARCHAR NOT NULL, metric VARCHAR NOT NULL, "
          "quantity DOUBLE NOT NULL)")
_SOURCE_FILES = ("CREATE TABLE IF NOT EXISTS source_files (source VARCHAR, key VARCHAR, etag VARCHAR, "
                 "PRIMARY KEY (source, key))")
# FOCUS 1.3 Contract Commitment dataset: one row per commitment, replaced by id when a newer export carries it
_COMMITMENTS = ("CREATE TABLE IF NOT EXISTS commitments (id VARCHAR PRIMARY KEY, kind VARCHAR, category VARCHAR, "
                "description VARCHAR, cost DECIMAL(18,9), quantity DECIMAL(18,9), unit VARCHAR, starts TIMESTAMP, "
                "ends TIMESTAMP, currency VARCHAR, source VARCHAR, ingested_at TIMESTAMP)")
_COMMITMENT_COLUMNS = {  # table column -> the dataset's column
    "kind": "ContractCommitmentType", "category": "ContractCommitmentCategory",
    "description": "ContractCommitmentDescription", "unit": "ContractCommitmentUnit", "currency": "BillingCurrency",
}
# what the bill applied to each commitment: ContractApplied's elements, summed per commitment
_APPLIED = ("SELECT json_extract_string(e, '$.ContractCommitmentId') AS id, "
            "sum(TRY_CAST(json_extract_string(e, '$.ContractCommitmentAppliedCost') AS DECIMAL(18,9))) AS used, "
            "sum(TRY_CAST(json_extract_string(e, '$.ContractCommitmentAppliedQuantity') AS DECIMAL(18,9))) "
            "AS used_quantity "
            "FROM costs, unnest(CAST(json_extract(ContractApplied, '$.Elements') AS JSON[])) AS t(e) "
            "WHERE ContractApplied IS NOT NULL AND json_valid(ContractApplied) GROUP BY 1")
# tag keys materialized as plain columns (lower-cased key -> column): filters and groups on them are ~20x faster
_TAG_INDEX = "CREATE TABLE IF NOT EXISTS tag_index (k VARCHAR PRIMARY KEY, col VARCHAR NOT NULL)"


# writes to each store file in this process, counted: what is read once per change (the data's first and last
# day, a column's values, resource names) is kept until the count moves. Only this process can write a file it
# holds open (DuckDB locks the file), and every write goes through a DuckDBCostStore method that counts it.
_CHANGES: dict[str, int] = defaultdict(int)


def _tag_value_expr(tags: str, spellings: Sequence[str], params: dict[str, Any] | None = None) -> str:
    """The tag's value (empty as NULL) under any of its spellings; the keys are bound parameters, added to
    `params` (tag keys come from the billing data and may hold any character), or, with no `params` (a view's
    definition), quoted literals."""
    refs = []
    for key in spellings:
        if params is None:
            refs.append(f"NULLIF(map_extract_value({tags}, {quote_literal(key)}), '')")
            continue
        name = f"k{len(params)}"
        params[name] = key
        refs.append(f"NULLIF(map_extract_value({tags}, ${name}), '')")
    if not refs:
        return "CAST(NULL AS VARCHAR)"
    return refs[0] if len(refs) == 1 else f"coalesce({', '.join(refs)})"


REST_MEMORY = "64MB"  # what the buffer pool is cut to when a long-lived process releases its cached pages


class DuckDBCostStore:
    """CostStore on an embedded DuckDB file (or `:memory:`)."""

    def __init__(self, path: Path | str, read_only: bool = False, threads: int | None = None,
                 index_keys: Iterable[str] = (), rollups: bool = True, memory_limit: str | None = None,
                 keep_files: bool = True) -> None:
        """`index_keys`: tag keys to materialize as columns (see `index_tags`) when the store is first used.
        `rollups=False` answers every question from the line items (the rollup is still kept; benchmarks).
        `keep_files=False` reads new Parquet files into `line_items` too, like CSV files (files kept before stay;
        benchmarks).
        `memory_limit` bounds DuckDB's buffer pool (`1GB`; None: DuckDB's default, 80 % of RAM): work beyond it
        spills to `<path>.tmp` beside the store, and cached pages beyond it are evicted."""
        self.path = str(path)
        self._use_rollups = rollups
        self._threads = threads
        self._memory_limit = memory_limit
        self._pending_index: tuple[str, ...] = tuple(index_keys)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._read_only = read_only and Path(self.path).exists()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()
        self._generation: str | None = None
        self._key = str(Path(self.path).resolve()) if self.path != ":memory:" else f":memory:{id(self)}"
        # FOCUS Parquet files kept as they are beside the store file (none for an in-memory store, or one whose
        # folder read_parquet cannot name: those read every file into `line_items`)
        items = ItemFiles(self.path) if self.path != ":memory:" else None
        self._items = items if items is not None and items.usable else None
        self._item_files = items
        self._keep_files = keep_files
        self._read_cache: dict[str, tuple[int, Any]] = {}  # what was read, with the change count it was read at
        # cached pages released when idle (`release_idle_memory`): reads and writes in flight, and the last use
        self._gate = threading.Lock()
        self._writing = threading.RLock()  # one write at a time through this object (ingest, fold, index, clear)
        self._unfoldable: set[str] = set()  # kept files a fold failed on (left for the next process)
        self._active = 0
        self._last_used = time.monotonic()
        self._released = False

    # -- connections -------------------------------------------------------------------------------
    def _root(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if self._con is None:
                try:
                    con = duckdb.connect(self.path, read_only=self._read_only)
                except duckdb.IOException as exc:
                    if "lock" in str(exc).lower():
                        raise StoreBusy(f"the cost store {self.path} is in use by another process") from None
                    raise
                try:
                    self._prepare(con)
                except BaseException:
                    con.close()
                    raise
                self._con = con
            return self._con

    def _prepare(self, con: duckdb.DuckDBPyConnection) -> None:
        """Settings, and (opened for writing) the schema brought up to date."""
        con.execute("SET TimeZone = 'UTC'")
        if self._threads:
            con.execute(f"SET threads = {int(self._threads)}")
        if self._memory_limit:
            con.execute(f"SET memory_limit = {quote_literal(self._memory_limit)}")
        if not self._read_only:
            self._upgrade_items(con)
            con.execute(_SCHEMA)
            for column, ctype in FOCUS_COLUMNS.items():  # a store made before a column was added
                con.execute(f"ALTER TABLE {ITEMS_TABLE} ADD COLUMN IF NOT EXISTS {quote_ident(column)} "
                            f"{ctype}")
            ItemFiles.create_schema(con)
            self._check_items(con)
            con.execute(_META)
            con.execute(_TAG_KEYS)
            con.execute(_TAG_INDEX)
            con.execute(_SOURCE_FILES)
            con.execute(_USAGE)
            con.execute(_COMMITMENTS)
            self._refresh_view(con)  # new columns, a moved folder: the view is written again at every writable open
            self._upgrade_rollup(con)
        else:
            self._check_items(con)
            if not self._rollup_readable(con):
                self._use_rollups = False

    def _check_items(self, con: duckdb.DuckDBPyConnection) -> None:
        """A store that keeps files must find them where its view names them: refuse, clearly, to answer from a
        folder the view cannot read (a wildcard in its path; moved, and opened read-only before any write)."""
        files = self._item_files
        try:
            kept = con.execute("SELECT count(*) FROM item_files").fetchone()
        except duckdb.CatalogException:  # written before files were kept
            return
        if files is None or not kept or not kept[0]:
            return
        if not files.usable:
            raise StoreUnreadable(f"the cost store {self.path} keeps billing files in {files.folder}, whose path "
                                  "holds a wildcard character (* ? [ ] { }): move the store and that folder to a path "
                                  "without one")
        if files.moved(con) and self._read_only:
            raise StoreUnreadable(f"the cost store {self.path} was moved: open it for writing once (any costbot "
                                  "command, e.g. `costbot status`) so it reads its billing files from "
                                  f"{files.folder}")

    @staticmethod
    def _upgrade_items(con: duckdb.DuckDBPyConnection) -> None:
        """A store written before files were kept holds its line items in the table `costs`: it becomes
        `line_items`, under the view `costs`."""
        found = con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = 'costs' AND schema_name = 'main' "
                            "AND NOT temporary").fetchall()
        if found:
            con.execute(f"ALTER TABLE costs RENAME TO {ITEMS_TABLE}")

    def _indexed(self, con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
        """Each tag column and the spellings of its key the data holds."""
        spellings = self._spellings(con)
        return {col: spellings.get(k, [k]) for k, col in self._index(con).items()}

    def _refresh_view(self, con: duckdb.DuckDBPyConnection) -> None:
        if self._items is None:
            con.execute(f"CREATE OR REPLACE VIEW {VIEW} AS SELECT * FROM {ITEMS_TABLE}")
        else:
            self._items.refresh_view(con, self._indexed(con), _tag_value_expr)

    def _upgrade_rollup(self, con: duckdb.DuckDBPyConnection) -> None:
        """A new store, or one written before the rollup (or with other tag columns): build it, in place."""
        columns = list(self._index(con).values())
        if duckdb_rollup.current(con, columns):
            return
        con.execute("BEGIN TRANSACTION")
        try:
            duckdb_rollup.rebuild(con, columns)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def _rollup_readable(self, con: duckdb.DuckDBPyConnection) -> bool:
        """Opened read-only: a store written before the rollup is answered from its line items."""
        try:
            return duckdb_rollup.current(con, list(self._index(con).values()))
        except duckdb.Error:
            return False

    def cursor(self) -> duckdb.DuckDBPyConnection:
        with self._gate:  # waits for a release under way, so no work runs under the rest limit
            self._last_used = time.monotonic()
            self._released = False
        cur = self._root().cursor()
        cur.execute("SET TimeZone = 'UTC'")
        if self._pending_index:
            with self._lock:
                keys, self._pending_index = self._pending_index, ()
            if keys:
                self.index_tags(keys)
        return cur

    @contextlib.contextmanager
    def _in_use(self) -> Iterator[None]:
        """Work in flight (a read, a transaction): memory is never released under it."""
        with self._gate:
            self._active += 1
        try:
            yield
        finally:
            with self._gate:
                self._active -= 1
                self._last_used = time.monotonic()

    def release_idle_memory(self, idle_seconds: float, rest: str = REST_MEMORY) -> bool:
        """Give the buffer pool's cached pages back when nothing has used the store for `idle_seconds`: the
        memory limit is cut to `rest` (DuckDB evicts down to it) and set back at once, so a long-lived
        process rests at a fraction of its working memory; the next questions read their pages again (from the
        OS page cache, cheaply). True when it released."""
        with self._gate:  # `close` takes it too: the connection is not closed under a release
            if (self._con is None or self._released or self._active
                    or time.monotonic() - self._last_used < idle_seconds):
                return False
            con = self._con.cursor()
            try:
                try:
                    con.execute(f"SET memory_limit = {quote_literal(rest)}")
                except duckdb.OutOfMemoryException:  # pinned pages beyond `rest` stay (the rest went); not again
                    self._released = True  # until the store is used
                    return False
                finally:
                    if self._memory_limit:
                        con.execute(f"SET memory_limit = {quote_literal(self._memory_limit)}")
                    else:
                        con.execute("RESET memory_limit")
            finally:
                con.close()
            self._released = True
            return True

    @contextlib.contextmanager
    def _using(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor for one read or write, counted as work in flight until it is closed: every use of the store
        goes through here (or `_transaction`), so the idle release never cuts memory under a statement."""
        with self._in_use():
            con = self.cursor()
            try:
                yield con
            finally:
                con.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor inside one transaction: committed when the block ends, rolled back if it raises."""
        with self._using() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._writing, self._lock, self._gate:  # a fold or an ingest under way ends first
            if self._con is not None:
                self._con.close()
                self._con = None
            self._read_cache = {}  # closed, the file may be written by another process before it is opened again

    # -- ingest --------------------------------------------------------------------------------------
    def ingest_files(
        self, paths: Iterable[Path], source: str | None = None, progress: ProgressCallback | None = None,
        replace: Iterable[tuple[str, date]] = (), replace_sources: Iterable[str] = (),
        complements: Iterable[tuple[str, str]] = (),
    ) -> IngestSummary:
        """`replace` names extra (billing account, month) periods of `source` to clear even when the new data
        holds no rows for them (a sync re-reads a window; an empty month must not keep stale rows).

        Billing account-months already held under another source label are refused (SourceOverlap), unless that
        source is in `replace_sources` (its rows for those months are replaced too) or the pair is in
        `complements` (the two carry different accounts or charge categories of one billing account)."""
        files = discover(paths)
        if not files:
            raise IngestError("no billing files found (.csv, .csv.gz, .parquet)", ", ".join(map(str, paths)))
        pairs = {frozenset(p) for p in complements}
        copies: dict[str, Path] = {}  # Parquet files copied into the store's folder by this ingest: the originals
        kept: list[str] = []  # those the store keeps (the rest were read into `line_items`)
        committed = False
        try:
            with self._writing, self._using() as con:
                con.execute("BEGIN TRANSACTION")
                try:
                    self._collect_garbage(con)
                    summary = self._ingest(con, files, source, progress, list(replace), set(replace_sources),
                                           pairs, copies, kept)
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                con.execute("COMMIT")
                committed = True
        except IngestError as exc:
            kept.clear()  # rolled back: no manifest names them
            raise self._naming_originals(exc, copies) from None
        except BaseException:
            if not committed:
                kept.clear()
            raise
        finally:
            if self._items is not None:
                self._items.discard(set(copies) - set(kept))
            self._changed()
        self._checkpoint()  # committed: the kept files are the manifest's whatever happens now
        return summary

    def _collect_garbage(self, con: duckdb.DuckDBPyConnection) -> None:
        if self._items is not None:
            self._items.collect_garbage(con, datetime.now(UTC).replace(tzinfo=None))

    def _checkpoint(self) -> None:
        """Write the ingest's tables into the store file now, so its pages need not stay in memory until DuckDB's
        write-ahead log grows large enough to be checkpointed (with files kept, an ingest logs only its rollup)."""
        with self._using() as con, contextlib.suppress(duckdb.TransactionException):
            con.execute("CHECKPOINT")  # a read under way: DuckDB checkpoints later on its own

    def compact_when_idle(self, idle_seconds: float) -> bool:
        """Fold the oldest kept file into `line_items` when nothing has used the store for `idle_seconds` (and
        delete the replaced files whose ten minutes are up): an ingest stays a copy, and the long-lived service,
        once idle, gives questions that read line items (`by resource`, a tag filter) materialized tag columns.
        True when it did either; looking costs nothing and does not count as a use (the idle release follows)."""
        if self._items is None or self._read_only:
            return False
        with self._writing:
            with self._gate:
                if self._con is None or self._active or time.monotonic() - self._last_used < idle_seconds:
                    return False  # closed (or not opened by this process), or in use
                look = self._con.cursor()
            try:
                now = datetime.now(UTC).replace(tzinfo=None)
                name = self._items.oldest(look, skip=self._unfoldable)
                due = self._items.deletions_due(look, now)
            finally:
                look.close()
            if name is None and not due:
                return False
            self._fold(name, now)
        self._checkpoint()
        return True

    def fold_kept_files(self) -> int:
        """Fold every kept file into `line_items` now, oldest first (`costbot fold`: what the idle service does,
        for a store only a terminal uses). Returns how many were folded."""
        if self._items is None or self._read_only:
            return 0
        folded = 0
        with self._writing:
            while True:
                with self._using() as con:
                    name = self._items.oldest(con, skip=self._unfoldable)
                if name is None:
                    break
                self._fold(name, datetime.now(UTC).replace(tzinfo=None))
                folded += 1
        if folded:
            self._checkpoint()
        return folded

    def _fold(self, name: str | None, now: datetime) -> None:
        """One transaction (under `_writing`): the replaced copies whose time is up deleted, and `name` folded."""
        assert self._items is not None
        try:
            with self._transaction() as con:
                self._collect_garbage(con)
                if name is not None:
                    self._items.fold(con, name, self._indexed(con), _tag_value_expr, now)
                    self._refresh_view(con)
        except BaseException:
            if name is not None:
                self._unfoldable.add(name)  # not again in this process: the next file's turn, then the release
            raise
        self._changed()

    def _changed(self) -> None:
        """The line items (may) have changed: what was read from them is read again."""
        _CHANGES[self._key] += 1

    def _once_per_change(self, name: str, read: Callable[[], Any]) -> Any:
        count = _CHANGES[self._key]
        kept = self._read_cache.get(name)
        if kept is None or kept[0] != count:
            kept = (count, read())
            self._read_cache[name] = kept
        return kept[1]

    def _naming_originals(self, exc: IngestError, copies: dict[str, Path]) -> IngestError:
        """The error as the user's file names it, not the store's copy of it."""
        if self._items is None or not copies:
            return exc
        path, reason = exc.path, exc.reason
        for name, original in copies.items():
            copy = str(self._items.folder / name)
            path, reason = path.replace(copy, str(original)), reason.replace(copy, str(original))
        return IngestError(reason, path, exc.row, exc.column)

    def _open(self, con: duckdb.DuckDBPyConnection, path: Path, table: str, copies: dict[str, Path]) -> RawFile:
        """The billing file as a relation. A FOCUS Parquet file is first copied into the store's folder and read
        from there: what is validated is what the store keeps, whatever happens to the original afterwards."""
        raw = open_file(con, path, table)
        if self._items is None or not self._keep_files or not raw.typed or format_for(raw).name != "focus":
            return raw
        try:
            name = self._items.copy_in(path)
        except OSError as exc:
            raise IngestError(f"cannot copy it into the store's folder {self._items.folder}: {exc.strerror}",
                              str(path)) from None
        copies[name] = path
        return dataclasses.replace(open_file(con, self._items.folder / name, table), path=path, kept_as=name)

    def _ingest(
        self, con: duckdb.DuckDBPyConnection, files: list[Path], source: str | None,
        progress: ProgressCallback | None, replace: list[tuple[str, date]], replace_sources: set[str],
        complements: set[frozenset[str]], copies: dict[str, Path], kept: list[str],
    ) -> IngestSummary:
        staged: list[tuple[RawFile, Mapping, str, set[tuple[str, str, date]]]] = []
        keys: set[tuple[str, str, date]] = set()
        found_keys: set[str] = set()
        notes: list[str] = []
        for i, path in enumerate(files):
            raw = self._open(con, path, f"raw_{i}", copies)
            fmt = format_for(raw)
            if fmt.mapping is None:
                count = self._ingest_commitments(con, raw, source or "focus")
                notes.append(f"{path.name}: {count:,} contract commitment{'' if count == 1 else 's'} (FOCUS 1.3 "
                             "Contract Commitment dataset; `/cost commitments`)")
                if progress:
                    progress(path, i, len(files))
                continue
            mapping = fmt.mapping(raw)
            label = source or mapping.kind
            self._validate(con, raw, mapping)
            try:
                tag_keys = frozenset(str(k) for (k,) in con.execute(
                    f"SELECT DISTINCT unnest(map_keys({mapping.tags_over_raw()})) FROM {raw.relation}").fetchall())
            except duckdb.Error as exc:
                raise describe_duckdb_error(exc, raw.path) from None
            if fmt.keyed is not None:
                mapping = fmt.keyed(raw, tag_keys)
            found_keys |= tag_keys
            periods = {(label, str(account), period) for account, period in con.execute(
                f"SELECT DISTINCT coalesce({mapping.exprs['BillingAccountId']}, ''), "
                f"CAST(date_trunc('month', coalesce({mapping.exprs['BillingPeriodStart']}, "
                f"{mapping.exprs['ChargePeriodStart']})) AS DATE) FROM {raw.relation}"
            ).fetchall()}
            keys |= periods
            staged.append((raw, mapping, label, periods))
            if progress:
                progress(path, i, len(files))
        keys |= self._overlaps(con, keys, replace_sources, complements)
        if source is not None:
            keys |= {(source, account, period) for account, period in replace}
        if found_keys:
            con.executemany("INSERT OR IGNORE INTO tag_keys VALUES (?)", [(k,) for k in sorted(found_keys)])
        indexed = self._indexed(con)
        if keys:
            self._drop_periods(con, keys, indexed)
        now = datetime.now(UTC).replace(tzinfo=None)
        rows = 0
        inserted_any = False
        for raw, mapping, label, periods in staged:
            if self._items is not None and raw.kept_as and mapping.kind == "focus" and mapping.left_out is None:
                rows += self._keep(con, raw, mapping, label, now, periods)
                kept.append(raw.kept_as)
                continue
            inserted = self._insert(con, raw, mapping, label, now, indexed)
            inserted_any = True
            rows += inserted
            if mapping.left_out:  # the file's rows less those inserted (cheaper than deriving the file again)
                found = con.execute(f"SELECT count(*) FROM {raw.relation}").fetchone()
                left_out = int(found[0]) - inserted if found else 0
                if left_out:
                    notes.append(f"{raw.path.name}: {left_out:,} {mapping.left_out_note}")
        if kept:
            self._refresh_view(con)
        parts = [f"SELECT * FROM {ITEMS_TABLE} WHERE x_IngestedAt = {ingested_at_literal(now)}"] if inserted_any else []
        if kept and self._items is not None:
            parts += self._items.branches(con, indexed, _tag_value_expr, kept)
        if parts:
            relation = "(" + " UNION ALL BY NAME ".join(parts) + ")"
            duckdb_rollup.add_ingested(con, list(indexed), relation)
            summary = self._summary(con, relation, rows, len(files))
        else:
            summary = IngestSummary(files=len(files), rows=0, effective_cost=Decimal(0), billed_cost=Decimal(0),
                                    first_day=None, last_day=None, providers=(), currencies=())
        con.execute(
            "INSERT OR REPLACE INTO store_meta VALUES ('generation', ?)", [now.isoformat()]
        )
        return dataclasses.replace(summary, notes=tuple(notes))

    def _drop_periods(self, con: duckdb.DuckDBPyConnection, keys: Iterable[tuple[str, str, date]],
                      indexed: dict[str, list[str]]) -> None:
        """Remove these (source, billing account, month) periods from the line items, the kept files (what a
        file holds of other periods moves into `line_items`) and the rollup."""
        con.execute("CREATE OR REPLACE TEMP TABLE replace_keys (src VARCHAR, account VARCHAR, period DATE)")
        con.executemany("INSERT INTO replace_keys VALUES (?, ?, ?)", sorted(keys))
        con.execute(
            f"DELETE FROM {ITEMS_TABLE} WHERE (x_Source, coalesce(BillingAccountId, ''), x_BillingPeriod) "
            "IN (SELECT src, account, period FROM replace_keys)"
        )
        if self._items is not None and self._items.release(con, indexed, _tag_value_expr, "replace_keys",
                                                           datetime.now(UTC).replace(tzinfo=None)):
            self._refresh_view(con)
        duckdb_rollup.drop_replaced(con)
        con.execute("DROP TABLE replace_keys")

    @staticmethod
    def _overlaps(con: duckdb.DuckDBPyConnection, carried: set[tuple[str, str, date]], replace_sources: set[str],
                  complements: set[frozenset[str]]) -> set[tuple[str, str, date]]:
        """The (source, account, month) keys of other sources to replace with this ingest; raises SourceOverlap
        when an account-month it carries is held (or carried in the same batch) under another source label that
        is neither replaced nor declared complementary."""
        labels: dict[tuple[str, date], set[str]] = defaultdict(set)
        for label, account, period in carried:
            labels[(account, period)].add(label)
        held: list[tuple[str, str, date]] = []
        if labels:
            con.execute("CREATE TEMP TABLE carried_periods (account VARCHAR, period DATE)")
            con.executemany("INSERT INTO carried_periods VALUES (?, ?)", sorted(labels))
            held = [(str(s), str(a), p) for s, a, p in con.execute(  # kept files: their manifest, not their rows
                f"SELECT DISTINCT x_Source, coalesce(BillingAccountId, ''), x_BillingPeriod FROM {ITEMS_TABLE} "
                "WHERE (coalesce(BillingAccountId, ''), x_BillingPeriod) IN (SELECT account, period FROM "
                "carried_periods) UNION SELECT source, account, period FROM item_periods WHERE (account, period) "
                "IN (SELECT account, period FROM carried_periods)").fetchall()]
            con.execute("DROP TABLE carried_periods")
        also: set[tuple[str, str, date]] = set()
        clashes: dict[tuple[str, str], list[tuple[str, date]]] = defaultdict(list)
        for (account, period), mine in sorted(labels.items()):
            others = sorted(mine)[1:] + [s for s, a, p in held if (a, p) == (account, period) and s not in mine]
            label = sorted(mine)[0]
            for other in others:
                if other in replace_sources and other not in mine:
                    also.add((other, account, period))
                elif frozenset((label, other)) not in complements:
                    clashes[(other, label)].append((account, period))
        if clashes:
            (other, label), periods = next(iter(sorted(clashes.items())))
            raise SourceOverlap(overlap_message(other, label, periods))
        return also

    @staticmethod
    def _ingest_commitments(con: duckdb.DuckDBPyConnection, raw: RawFile, source: str) -> int:
        """A Contract Commitment file: its commitments replace those with the same id. A row without an id, a
        period or a readable cost rejects the file (and the batch), named by row and column."""
        index = ColumnIndex(raw)

        def col(name: str) -> RawColumn:
            found = index.get(name)
            if found is None:
                raise IngestError(f"column {name} is missing (a Contract Commitment dataset needs it)", str(raw.path))
            return found

        ident, cost = col("ContractCommitmentId"), col("ContractCommitmentCost")
        start, end = col("ContractCommitmentPeriodStart"), col("ContractCommitmentPeriodEnd")
        quantity = index.get("ContractCommitmentQuantity")
        exprs = {"id": text_expr(ident.ref), "cost": number_expr(cost.ref, cost.type, COST_TYPE),
                 "quantity": number_expr(quantity.ref, quantity.type, COST_TYPE) if quantity else "NULL",
                 "starts": timestamp_expr(start.ref, start.type), "ends": timestamp_expr(end.ref, end.type)}
        for target, name in _COMMITMENT_COLUMNS.items():
            found = index.get(name)
            exprs[target] = text_expr(found.ref) if found else "NULL"
        checks = [Check(ident.name, f"({exprs['id']}) IS NULL", "is missing"),
                  Check(cost.name, f"({exprs['cost']}) IS NULL", "is not a number", cost.ref),
                  Check(start.name, f"({exprs['starts']}) IS NULL", "is not a timestamp", start.ref),
                  Check(end.name, f"({exprs['ends']}) IS NULL", "is not a timestamp", end.ref)]
        DuckDBCostStore._validate(con, raw, Mapping("commitments", exprs, checks))
        select = ", ".join(f"{exprs[c]}" for c in ("id", "kind", "category", "description", "cost", "quantity",
                                                     "unit", "starts", "ends", "currency"))
        now = datetime.now(UTC).replace(tzinfo=None)
        con.execute(f"INSERT OR REPLACE INTO commitments SELECT {select}, ?, ? FROM {raw.relation}", [source, now])
        result = con.execute(f"SELECT count(DISTINCT {exprs['id']}) FROM {raw.relation}").fetchone()
        return int(result[0]) if result else 0

    def commitments(self) -> CommitmentReport:
        """Every commitment read from Contract Commitment datasets, with what the bill applied to it so far."""
        rows = self._fetch(
            "SELECT c.id, c.kind, c.category, c.description, c.cost, c.quantity, c.unit, c.starts, c.ends, "
            f"c.currency, coalesce(a.used, 0), coalesce(a.used_quantity, 0) FROM commitments c "
            f"LEFT JOIN ({_APPLIED}) a ON a.id = c.id ORDER BY c.ends, c.id", {})
        found = tuple(Commitment(str(i), str(k or ""), c, d, Decimal(cost), None if q is None else Decimal(q), u,
                                 s.date(), e.date(), cur, Decimal(used), Decimal(used_q))
                      for i, k, c, d, cost, q, u, s, e, cur, used, used_q in rows)
        return CommitmentReport(self.freshness(), found)

    @staticmethod
    def _validate(con: duckdb.DuckDBPyConnection, raw: RawFile, mapping: Mapping) -> None:
        if not mapping.checks:
            return
        selects = ", ".join(f"min(__row) FILTER (WHERE {c.bad})" for c in mapping.checks)
        try:
            first_bad = con.execute(f"SELECT {selects} FROM {raw.relation}").fetchone()
        except duckdb.Error as exc:
            raise describe_duckdb_error(exc, raw.path) from None
        assert first_bad is not None
        found = [(row, i) for i, row in enumerate(first_bad) if row is not None]
        if not found:
            return
        row, i = min(found)
        check = mapping.checks[i]
        reason = check.reason
        if check.value is not None:
            value = con.execute(f"SELECT CAST({check.value} AS VARCHAR) FROM {raw.relation} WHERE __row = ?",
                                [row]).fetchone()
            if value and value[0] is not None:
                reason = f"'{str(value[0])[:60]}' {reason}"
        raise IngestError(reason, str(raw.path), row=int(row), column=check.column)

    @staticmethod
    def _projection(mapping: Mapping, label: str, now: datetime, relation: str) -> str:
        """The mapping's FOCUS columns over `relation`, with costbot's own (source, billing period, ingest)."""
        exprs = dict(mapping.exprs)
        exprs["x_Source"] = f"CAST({quote_literal(label)} AS VARCHAR)"
        exprs["x_BillingPeriod"] = (
            f"CAST(date_trunc('month', coalesce({exprs['BillingPeriodStart']}, {exprs['ChargePeriodStart']})) "
            "AS DATE)"
        )
        exprs["x_IngestedAt"] = ingested_at_literal(now)
        for cost in ("BilledCost", "EffectiveCost", "ListCost"):
            exprs[cost] = f"coalesce({exprs[cost]}, 0)"
        if exprs.get("ChargePeriodEnd") == "NULL":
            exprs["ChargePeriodEnd"] = f"({exprs['ChargePeriodStart']}) + INTERVAL 1 DAY"
        return projection_sql(exprs, mapping.insert_relation(relation))

    def _insert(
        self, con: duckdb.DuckDBPyConnection, raw: RawFile, mapping: Mapping, label: str, now: datetime,
        indexed: dict[str, list[str]],
    ) -> int:
        params: dict[str, Any] = {}
        cols = ", ".join([quote_ident(c) for c in FOCUS_COLUMNS] + [quote_ident(c) for c in indexed])
        tag_values = "".join(f", {_tag_value_expr('Tags', keys, params)}" for keys in indexed.values())
        keep = f" WHERE NOT coalesce({mapping.left_out}, FALSE)" if mapping.left_out else ""
        projection = self._projection(mapping, label, now, raw.relation)
        sql = f"INSERT INTO {ITEMS_TABLE} ({cols}) SELECT *{tag_values} FROM ({projection}{keep})"
        try:
            result = con.execute(sql, params).fetchone()
        except duckdb.Error as exc:
            raise describe_duckdb_error(exc, raw.path) from None
        return int(result[0]) if result else 0

    def _keep(self, con: duckdb.DuckDBPyConnection, raw: RawFile, mapping: Mapping, label: str, now: datetime,
              periods: set[tuple[str, str, date]]) -> int:
        """Keep the (copied, validated) Parquet file as it is: its mapping goes into the manifest, which the view
        `costs` reads it through. Returns its rows."""
        assert self._items is not None and raw.kept_as
        try:
            found = con.execute(f"SELECT count(*) FROM {raw.relation}").fetchone()
        except duckdb.Error as exc:
            raise describe_duckdb_error(exc, raw.path) from None
        rows = int(found[0]) if found else 0
        ItemFiles.add(con, raw.kept_as, self._projection(mapping, label, now, RELATION), raw.path, rows, now,
                      periods)
        return rows

    @staticmethod
    def _summary(con: duckdb.DuckDBPyConnection, relation: str, rows: int, files: int) -> IngestSummary:
        """What this ingest added: `relation`, its line items."""
        row = con.execute(
            "SELECT coalesce(sum(EffectiveCost), 0), coalesce(sum(BilledCost), 0), min(ChargePeriodStart), "
            "max(ChargePeriodStart), list(DISTINCT coalesce(ProviderName, '(unknown)') ORDER BY 1), "
            "list(DISTINCT coalesce(BillingCurrency, '(unknown)') ORDER BY 1) "
            f"FROM {relation}",
        ).fetchone()
        assert row is not None
        first, last = row[2], row[3]
        return IngestSummary(
            files=files,
            rows=rows,
            effective_cost=Decimal(row[0]),
            billed_cost=Decimal(row[1]),
            first_day=first.date() if first else None,
            last_day=last.date() if last else None,
            providers=tuple(sorted(row[4] or ())),
            currencies=tuple(sorted(row[5] or ())),
        )

    # -- what synced sources have delivered (S3 export files by ETag) ------------------------------------
    def source_etags(self, source: str) -> dict[str, str]:
        return {str(k): str(e) for k, e in self._fetch("SELECT key, etag FROM source_files WHERE source = $s",
                                                       {"s": source})}

    def record_source_files(self, source: str, etags: dict[str, str]) -> None:
        with self._using() as con:
            con.executemany("INSERT OR REPLACE INTO source_files VALUES (?, ?, ?)",
                            [(source, k, v) for k, v in etags.items()])

    def record_sync(self, source: str) -> None:
        """A sync of `source` succeeded now (with or without changes): `sources list` says when."""
        with self._using() as con:
            con.execute("INSERT OR REPLACE INTO store_meta VALUES (?, ?)",
                        [f"sync:{source}", datetime.now(UTC).replace(tzinfo=None).isoformat()])

    def holdings(self) -> list[SourceHolding]:
        """What each source label holds: billing accounts, months, rows, totals, when it last changed and synced."""
        syncs = {str(k)[5:]: datetime.fromisoformat(str(v)) for k, v in self._fetch(
            "SELECT k, v FROM store_meta WHERE k LIKE 'sync:%'", {})}
        rows = self._fetch(
            "SELECT x_Source, list(DISTINCT coalesce(BillingAccountId, '')), "
            "list(DISTINCT x_BillingPeriod), count(*), coalesce(sum(EffectiveCost), 0), "
            "coalesce(sum(BilledCost), 0), max(x_IngestedAt) FROM costs GROUP BY 1 ORDER BY 1", {})
        out = [SourceHolding(str(name), tuple(sorted(accounts)), tuple(sorted(months)), int(n), Decimal(eff),
                             Decimal(billed), last,
                             syncs.pop(str(name), None))
               for name, accounts, months, n, eff, billed, last in rows]
        out += [SourceHolding(name, (), (), 0, Decimal(0), Decimal(0), None, at) for name, at in sorted(syncs.items())]
        return out

    def clear_periods(self, source: str, periods: Iterable[tuple[str, date]]) -> int:
        """Remove a source's rows for these (billing account, month) periods: a re-read found them empty."""
        keys = {(source, account, month) for account, month in periods}
        if keys:
            with self._writing, self._transaction() as con:
                self._collect_garbage(con)
                self._drop_periods(con, keys, self._indexed(con))
        self._changed()
        return 0

    # -- usage metrics for allocation --------------------------------------------------------------------
    def ingest_usage(self, path: Path) -> int:
        """A CSV of date, team, metric, quantity. Replaces the (metric, day) pairs it carries; a bad row rejects
        the file with row and column named."""
        if not path.is_file():
            raise IngestError("no such file", str(path))
        with self._transaction() as con:
            try:
                con.execute("CREATE TEMP TABLE usage_raw AS SELECT row_number() OVER () AS __row, * FROM read_csv(?, "
                            "header=true, all_varchar=true, auto_detect=true)", [str(path)])
            except duckdb.Error as exc:
                raise describe_duckdb_error(exc, path) from None
            cols = {r[0].lower(): r[0] for r in con.execute("DESCRIBE usage_raw").fetchall()}
            missing = [c for c in ("date", "team", "metric", "quantity") if c not in cols]
            if missing:
                raise IngestError(f"missing column(s) {', '.join(missing)} (need date, team, metric, quantity)",
                                  str(path))
            d, t, m, q = (quote_ident(cols[c]) for c in ("date", "team", "metric", "quantity"))
            checks = [(cols["date"], f"TRY_CAST({d} AS DATE) IS NULL", "is not a date (YYYY-MM-DD)", d),
                      (cols["team"], f"coalesce(trim({t}), '') = ''", "is missing", t),
                      (cols["metric"], f"coalesce(trim({m}), '') = ''", "is missing", m),
                      (cols["quantity"], f"TRY_CAST({q} AS DOUBLE) IS NULL OR TRY_CAST({q} AS DOUBLE) < 0",
                       "is not a non-negative number", q)]
            for column, bad, reason, ref in checks:
                row = con.execute(f"SELECT __row, CAST({ref} AS VARCHAR) FROM usage_raw WHERE {bad} ORDER BY __row "
                                  "LIMIT 1").fetchone()
                if row is not None:
                    shown = f"'{row[1]}' " if row[1] is not None else ""
                    raise IngestError(f"{shown}{reason}", str(path), row=int(row[0]), column=column)
            con.execute(f"DELETE FROM usage WHERE (metric, day) IN (SELECT DISTINCT trim({m}), CAST({d} AS DATE) "
                        "FROM usage_raw)")
            result = con.execute(f"INSERT INTO usage SELECT CAST({d} AS DATE), trim({t}), trim({m}), "
                                 f"CAST({q} AS DOUBLE) FROM usage_raw").fetchone()
            con.execute("DROP TABLE usage_raw")
        return int(result[0]) if result else 0

    def usage_by_team(self, metric: str, start: date, end: date) -> dict[str, Decimal]:
        rows = self._fetch("SELECT team, sum(quantity) FROM usage WHERE metric = $m AND day >= $s AND day < $e "
                           "GROUP BY 1", {"m": metric, "s": start, "e": end})
        return {str(t): Decimal(str(q)) for t, q in rows}

    def last_ingest(self) -> str | None:
        rows = self._fetch("SELECT v FROM store_meta WHERE k = 'generation'", {})
        return str(rows[0][0]) if rows else None

    # -- tag index -----------------------------------------------------------------------------------
    @staticmethod
    def _spellings(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for (k,) in con.execute("SELECT k FROM tag_keys ORDER BY k").fetchall():
            out.setdefault(str(k).lower(), []).append(str(k))
        return out

    @staticmethod
    def _index(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
        return {str(k): str(c) for k, c in con.execute("SELECT k, col FROM tag_index ORDER BY col").fetchall()}

    def index_tags(self, keys: Iterable[str]) -> list[str]:
        """Materialize these tag keys (case-insensitively) as columns; returns the keys newly indexed.

        The composition root passes the keys the config uses (tag_keys, team tags), so the common filters and
        groupings read a plain column instead of the Tags map. Other keys still work, through the map.
        """
        if self._read_only:
            return []
        index = self.tag_columns()
        wanted = sorted({k.lower() for k in keys} - set(index))
        if not wanted:
            return []
        added: list[str] = []
        with self._writing, self._transaction() as con:
            index = self._index(con)  # again, inside the transaction: another process may have indexed some
            spellings = self._spellings(con)
            for key in (k for k in wanted if k not in index):
                column = f"x_tag_{len(index)}"
                con.execute(f"ALTER TABLE {ITEMS_TABLE} ADD COLUMN {quote_ident(column)} VARCHAR")
                params: dict[str, Any] = {}
                value = _tag_value_expr("Tags", spellings.get(key, [key]), params)
                con.execute(f"UPDATE {ITEMS_TABLE} SET {quote_ident(column)} = {value}", params)
                con.execute("INSERT INTO tag_index VALUES (?, ?)", [key, column])
                index[key] = column
                added.append(key)
            if added:
                self._refresh_view(con)
                duckdb_rollup.rebuild(con, list(index.values()))
        self._changed()
        return added

    def tag_columns(self) -> dict[str, str]:
        """Tag key -> its materialized column (one read per change of the data, as `tag_keys`)."""
        def read() -> dict[str, str]:
            with self._using() as con:
                return self._index(con)

        columns: dict[str, str] = self._once_per_change("tag_columns", read)
        return columns

    # -- reads ---------------------------------------------------------------------------------------
    def tag_keys(self) -> tuple[str, ...]:
        """Every tag key the data holds (one read per change of the data, through this store or another)."""
        keys: tuple[str, ...] = self._once_per_change(
            "tag_keys", lambda: tuple(str(k) for (k,) in self._fetch("SELECT k FROM tag_keys ORDER BY k", {})))
        return keys

    def _fetch(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        with self._using() as con:
            return con.execute(sql, params).fetchall()

    def _table(self, spec: CostSpec, grouping: Grouping | None) -> str:
        """The daily rollup when it holds what the question asks about, else the line items."""
        if self._use_rollups and sql_compile.rollup_serves(spec, grouping, self.tag_columns()):
            return sql_compile.ROLLUP_TABLE
        return "costs"

    def totals(self, spec: CostSpec, previous: tuple[date, date]) -> Totals:
        sql, params = sql_compile.totals_sql(spec, previous, self.tag_keys(), self.tag_columns(),
                                             self._table(spec, None))
        current, untagged, prev = self._fetch(sql, params)[0]
        return Totals(current=Decimal(current), previous=Decimal(prev), untagged=Decimal(untagged))

    def groups(self, spec: CostSpec, grouping: Grouping, top: int | None = None) -> list[tuple[str, Decimal]]:
        sql, params = sql_compile.groups_sql(spec, grouping, self.tag_keys(), self.tag_columns(),
                                             self._table(spec, grouping), top, staged=True)
        return [(str(k), Decimal(c)) for k, c in self._fetch(sql, params)]

    def daily(self, spec: CostSpec, grouping: Grouping) -> list[DailyRow]:
        sql, params = sql_compile.daily_sql(spec, grouping, self.tag_keys(), self.tag_columns(),
                                            self._table(spec, grouping), staged=True)
        return [DailyRow(d, str(k), Decimal(c)) for d, k, c in self._fetch(sql, params)]

    def quantities(self, spec: CostSpec, grouping: Grouping) -> list[tuple[str, Decimal]]:
        sql, params = sql_compile.quantities_sql(spec, grouping, self.tag_keys(), self.tag_columns())
        return [(str(k), Decimal(str(h))) for k, h in self._fetch(sql, params)]

    def _days(self) -> str:
        """Where the days with billing data are read: the rollup holds one row per day and combination."""
        return sql_compile.ROLLUP_TABLE if self._use_rollups else "costs"

    def _span(self) -> tuple[date | None, date | None]:
        """The first and last day with billing data: every answer asks (one read per change of the data)."""
        def read() -> tuple[date | None, date | None]:
            first, last = self._fetch(f"SELECT min(ChargePeriodStart), max(ChargePeriodStart) FROM {self._days()}",
                                      {})[0]
            return (first.date() if first else None, last.date() if last else None)

        span: tuple[date | None, date | None] = self._once_per_change("span", read)
        return span

    def freshness(self) -> date | None:
        return self._span()[1]

    def first_day(self) -> date | None:
        return self._span()[0]

    def distinct_values(self, column: str) -> list[str]:
        """A column's values (`service:` words are resolved against them: one read per change of the data)."""
        if column not in sql_compile.ALLOWED_COLUMNS:
            raise ValueError(column)
        table = self._days() if column in sql_compile.ROLLUP_COLUMNS else "costs"

        def read() -> list[str]:
            rows = self._fetch(f"SELECT DISTINCT {quote_ident(column)} FROM {table} WHERE {quote_ident(column)} "
                               "IS NOT NULL ORDER BY 1", {})
            return [str(r[0]) for r in rows]

        return list(self._once_per_change(f"values:{column}", read))

    def tag_values(self, key: str) -> list[str]:
        table = self._days() if key.lower() in self.tag_columns() else "costs"
        sql, params = sql_compile.tag_values_sql(key, self.tag_keys(), self.tag_columns(), table)
        return [str(r[0]) for r in self._fetch(sql, params)]

    def resource_names(self) -> dict[str, str]:
        """Every resource's name; kept until the data changes (200k resources take a scan of every line item)."""
        names: dict[str, str] = self._once_per_change(
            "names", lambda: {str(i): str(n) for i, n in self._fetch(sql_compile.RESOURCE_NAMES_SQL, {})})
        return dict(names)

    def row_count(self) -> int:
        return int(self._fetch("SELECT count(*) FROM costs", {})[0][0])

    def sources(self) -> Sequence[tuple[str, int]]:
        return [(str(s), int(n)) for s, n in self._fetch(
            "SELECT x_Source, count(*) FROM costs GROUP BY 1 ORDER BY 1", {})]
