"""Ports: what the services need from the outside world. Adapters implement these; tests use fakes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from bot.domain.digest import Digest
from bot.domain.spec import CostSpec, Grouping
from bot.domain.subscriptions import Subscription


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


class StateStore(Protocol):
    """App state shared by every replica (SQLite or PostgreSQL).

    Implementers must make `claim_run` and `acquire_lease` atomic across processes (a unique key or a
    conditional update), so that two schedulers or bot replicas never both post or both lead.
    """

    def upsert_subscription(self, sub: Subscription) -> Subscription: ...

    def remove_subscription(self, channel: str, scope: str) -> Subscription | None: ...

    def subscriptions(self, channel: str | None = None) -> list[Subscription]: ...

    def subscription(self, subscription_id: int) -> Subscription | None: ...

    def remove_config_subscriptions_except(self, keep: set[tuple[str, str]]) -> int: ...

    def claim_run(self, subscription_id: int, run_key: str) -> bool: ...

    def finish_run(self, subscription_id: int, run_key: str, ok: bool, error: str | None = None) -> int: ...

    def acquire_lease(self, name: str, holder: str, ttl: timedelta) -> bool: ...

    def release_lease(self, name: str, holder: str) -> None: ...

    def lease_holder(self, name: str) -> tuple[str, datetime] | None: ...


class DigestPublisher(Protocol):
    """Delivers a digest to a channel (Slack: the chart uploaded with the digest as its message)."""

    def publish(self, channel: str, digest: Digest) -> None: ...
