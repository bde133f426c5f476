"""What an ingest or a source pull produced. Plain data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path


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


@dataclass
class SourceBatch:
    """What one pull produced: files to ingest together, and (account, month) periods they replace."""

    files: list[Path]
    replace: list[tuple[str, date]]
    note: str = ""
