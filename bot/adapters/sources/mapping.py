"""A mapping from one raw file's columns to FOCUS columns, with the checks that reject a bad row."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.adapters.sources.raw_files import RawColumn, RawFile


@dataclass(frozen=True)
class Check:
    """`bad` is a SQL condition true for a row that must reject the file."""

    column: str  # the file's column name, for the message
    bad: str
    reason: str
    value: str | None = None  # SQL for the offending raw value, quoted in the message


@dataclass
class Mapping:
    kind: str  # "focus" | "cur"
    exprs: dict[str, str]  # FOCUS column -> SQL over the raw relation
    checks: list[Check] = field(default_factory=list)
    # columns computed once for the insert, layer by layer (a layer may use the ones before): an expression many
    # columns share (the attributed tags), or a window over the file (a node's hour). Only the inserted columns
    # (`exprs` other than the account, period and tag columns the store reads from the raw relation) use them.
    derived: list[dict[str, str]] = field(default_factory=list)
    raw_tags: str | None = None  # the Tags expression over the raw relation, when `exprs` reads a derived one
    # rows to leave out, SQL over the raw relation (an origin charge whose allocated charges are in the file too),
    # and what the ingest summary says of them
    left_out: str | None = None
    left_out_note: str = ""

    def tags_over_raw(self) -> str:
        return self.raw_tags or self.exprs["Tags"]

    def insert_relation(self, relation: str) -> str:
        """The raw relation with the derived columns added."""
        for layer in self.derived:
            columns = ", ".join(f"{expr} AS {name}" for name, expr in layer.items())
            relation = f"(SELECT *, {columns} FROM {relation})"
        return relation


class ColumnIndex:
    """Find a file's columns by case-insensitive name (first occurrence wins)."""

    def __init__(self, raw: RawFile, normalize: bool = False) -> None:
        self.by_name: dict[str, RawColumn] = {}
        for col in raw.columns:
            key = col.name.lower().lstrip("\ufeff").strip()
            if normalize:
                key = snake_name(col.name)
            self.by_name.setdefault(key, col)

    def get(self, *names: str) -> RawColumn | None:
        for n in names:
            col = self.by_name.get(n.lower())
            if col is not None:
                return col
        return None


def snake_name(name: str) -> str:
    """`lineItem/UnblendedCost` -> `line_item_unblended_cost`; snake_case names pass unchanged."""
    parts = []
    for part in name.lstrip("\ufeff").strip().split("/"):
        out = []
        for i, ch in enumerate(part):
            if ch.isupper() and i > 0 and (part[i - 1].islower() or part[i - 1].isdigit()):
                out.append("_")
            out.append(ch.lower())
        parts.append("".join(out))
    return "_".join(parts)
