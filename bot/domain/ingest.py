"""What an ingest or a source pull produced. Plain data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
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
    notes: tuple[str, ...] = ()  # files read but holding no charges (e.g. a FOCUS 1.3 Contract Commitment dataset)


@dataclass
class SourceBatch:
    """What one pull produced: files to ingest together, and (account, month) periods they replace."""

    files: list[Path]
    replace: list[tuple[str, date]]
    note: str = ""


@dataclass(frozen=True)
class SourceHolding:
    """What one source label holds in the store (`costbot sources list`, `/cost sources`)."""

    name: str
    accounts: tuple[str, ...]  # billing accounts
    months: tuple[date, ...]  # billing months (their first days)
    rows: int
    effective_cost: Decimal
    billed_cost: Decimal
    last_loaded: datetime | None  # the last ingest that changed its rows
    last_sync: datetime | None = None  # the last successful sync (with or without changes)
    configured: bool = False  # a source of costbot.yml (else a label given to `costbot ingest`)


def overlap_message(other: str, label: str, periods: list[tuple[str, date]]) -> str:
    """Why an ingest was refused, and the ways out (replace the other source, or declare both complementary)."""
    accounts = sorted({a for a, _ in periods})
    months = sorted({m for _, m in periods})
    span = f"{months[0]:%Y-%m}"
    if len(months) > 1:
        span += f" – {months[-1]:%Y-%m} ({len(months)} months)"
    shown = ", ".join(a or "(none)" for a in accounts[:5]) + (" …" if len(accounts) > 5 else "")
    return (f"billing account {shown}, {span}, is already held under source '{other}': taking it as '{label}' too "
            f"would count it twice. Replace what '{other}' holds for those months with `--replace-source {other}` "
            f"(or load the files as `--source {other}`); if the two carry different accounts or charge categories, "
            f"declare them complementary in costbot.yml (`complements: [{other}]` on the source '{label}').")
