"""Open a billing file (CSV, CSV.gz, Parquet) in DuckDB as a relation with a 1-based `__row` column.

CSV headers are read here so that duplicate or odd column names (spaces, colons, a BOM) survive: columns are
read positionally as text and mapped back to their original names.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from bot.adapters.sources.columns import quote_ident, quote_literal
from bot.domain.errors import IngestError

SUFFIXES = (".csv", ".csv.gz", ".parquet", ".snappy.parquet", ".gz.parquet")


@dataclass(frozen=True)
class RawColumn:
    name: str  # as written in the file
    ref: str  # SQL reference inside the relation
    type: str  # DuckDB type name


@dataclass(frozen=True)
class RawFile:
    path: Path
    relation: str  # SQL table expression with `__row` and the raw columns
    columns: tuple[RawColumn, ...]
    typed: bool = False  # Parquet: values arrive typed and clean; CSV text needs trimming and NULL spotting
    kept_as: str | None = None  # read from the store's copy of the file, under this name (`duckdb_items`)


def is_billing_file(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith((".csv", ".csv.gz", ".parquet"))


def discover(paths: Iterable[Path]) -> list[Path]:
    """Expand folders (recursively, sorted) into billing files; a named file must exist."""
    found: list[Path] = []
    for p in paths:
        if p.is_dir():
            found += sorted(f for f in p.rglob("*") if f.is_file() and is_billing_file(f))
        elif p.is_file():
            found.append(p)
        else:
            raise IngestError("no such file or folder", str(p))
    return found


def _csv_header(path: Path) -> list[str]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            header = next(csv.reader(text), None)
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:
        raise IngestError(f"cannot read the header: {exc}", str(path)) from None
    if not header:
        raise IngestError("the file is empty (no header row)", str(path))
    return [h.strip() for h in header]


_CSV_LINE = re.compile(r"CSV Error on Line: (\d+)")


def describe_duckdb_error(exc: duckdb.Error, path: Path) -> IngestError:
    """Turn a DuckDB reader error into an IngestError naming the row when DuckDB tells it."""
    text = str(exc)
    m = _CSV_LINE.search(text)
    first = text.splitlines()[0] if text else type(exc).__name__
    detail = next((ln.strip() for ln in text.splitlines()[1:] if ln.strip().startswith("Expected")), "")
    if "unterminated quote" in text:
        detail = "unterminated quote (the file may be truncated)"
    if m:
        line = int(m.group(1))
        reason = detail or first
        if "Expected Number of Columns" in reason:
            reason += " (the file may be truncated)"
        return IngestError(f"{reason} (line {line})", str(path), row=line - 1)
    return IngestError(first.replace("Invalid Input Error: ", "").replace("IO Error: ", ""), str(path))


def open_csv(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> RawFile:
    header = _csv_header(path)
    cols = {f"c{i}": "VARCHAR" for i in range(len(header))}
    spec = "{" + ", ".join(f"{quote_literal(k)}: 'VARCHAR'" for k in cols) + "}"
    try:
        con.execute(
            f"CREATE TEMP TABLE {table} AS SELECT row_number() OVER () AS __row, * "
            f"FROM read_csv({quote_literal(str(path))}, "
            f"columns={spec}, auto_detect=false, header=true, delim=',', quote='\"', escape='\"', "
            f"strict_mode=true, nullstr=['NULL', ''])"
        )
    except duckdb.Error as exc:
        raise describe_duckdb_error(exc, path) from None
    columns = tuple(RawColumn(name, f"c{i}", "VARCHAR") for i, name in enumerate(header))
    return RawFile(path, table, columns)


def open_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> RawFile:
    src = f"read_parquet({quote_literal(str(path))}, file_row_number=true)"
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()
    except duckdb.Error as exc:
        raise describe_duckdb_error(exc, path) from None
    columns = tuple(
        RawColumn(str(name), quote_ident(str(name)), str(ctype))
        for name, ctype, *_ in described
        if name != "file_row_number"
    )
    return RawFile(path, f"(SELECT file_row_number + 1 AS __row, * FROM {src})", columns, typed=True)


def open_file(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> RawFile:
    name = path.name.lower()
    if name.endswith(".parquet"):
        return open_parquet(con, path)
    if name.endswith((".csv", ".csv.gz")):
        return open_csv(con, path, table)
    raise IngestError("unsupported file type (expected .csv, .csv.gz or .parquet)", str(path))
