"""Ports: what the services need from the outside world. Adapters implement these; tests use fakes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from bot.domain.spec import CostSpec, Grouping


@dataclass(frozen=True)
class Totals:
    current: Decimal
    previous: Decimal
    untagged: Decimal


@dataclass(frozen=True)
class DailyRow:
    day: date
    key: str
    cost: Decimal


@dataclass(frozen=True)
class IngestSummary:
    files: int
    rows: int
    effective_cost: Decimal
    billed_cost: Decimal
    first_day: date | None
    last_day: date | None
    providers: tuple[str, ...]
    currencies: tuple[str, ...]


class CostStore(Protocol):
    """FOCUS line items, queried by resolved specs.

    Implementers must: sum exactly (decimal, no float drift); treat `end` as exclusive and dates as UTC;
    make an ingest one transaction that replaces the (source, billing account, month) it carries; be safe to
    call from several threads at once.
    """

    def ingest_files(
        self, paths: Iterable[Path], source: str | None = None,
        progress: Callable[[Path, int, int], None] | None = None,
    ) -> IngestSummary: ...

    def totals(self, spec: CostSpec, previous: tuple[date, date]) -> Totals: ...

    def groups(self, spec: CostSpec, grouping: Grouping) -> list[tuple[str, Decimal]]: ...

    def daily(self, spec: CostSpec, grouping: Grouping) -> list[DailyRow]: ...

    def freshness(self) -> date | None: ...

    def distinct_values(self, column: str) -> list[str]: ...

    def row_count(self) -> int: ...

    def sources(self) -> Sequence[tuple[str, int]]: ...
