"""The embedded cost store as every costbot process on one data folder sees it.

One process holds the DuckDB file (its lock) and answers the others over the local channel
(bot/adapters/store_service.py). At its first use, a process looks for that owner; finding none, it opens the
file itself — and, if it is a long-lived process (`publish`: serve, scheduler), becomes the owner and serves
the others. When the owner stops, the next call of a process that was its client finds the socket gone and
looks again, so a long-lived client takes over (a command started while a service stopped opens the file).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from bot.adapters.duckdb_store import DuckDBCostStore
from bot.adapters.store_service import StoreClient, StoreGone, StoreServer, yield_cpu_to_answers
from bot.domain.commitments import CommitmentReport
from bot.domain.errors import StoreBusy
from bot.domain.figures import DailyRow, Totals
from bot.domain.ingest import IngestSummary, SourceHolding
from bot.domain.spec import CostSpec, Grouping

log = logging.getLogger("costbot.store")

Role = Literal["owner", "client", "alone"]
LOOK_SECONDS = 10.0  # how long to wait for an owner that is starting up, or for a command holding the file
_RETRY_SECONDS = 0.2


class SharedCostStore:
    """CostQueries, CostIngest and UsageMetrics on the data folder's store, wherever it is held."""

    def __init__(self, open_store: Callable[[], DuckDBCostStore], socket: Path, publish: bool = False,
                 look_seconds: float = LOOK_SECONDS) -> None:
        self._open_store = open_store
        self.socket = socket
        self.publish = publish  # set by the composition root for `serve` and `scheduler`
        self.look_seconds = look_seconds
        self._lock = threading.RLock()
        self._target: DuckDBCostStore | StoreClient | None = None
        self._server: StoreServer | None = None
        self._resting = threading.Event()  # set: the idle-memory watch stops
        self._watch: threading.Thread | None = None

    @property
    def role(self) -> Role | None:
        """owner: holds the file and serves it; client: another process holds it; alone: holds it, serves nobody."""
        target = self._target
        if target is None:
            return None
        if isinstance(target, StoreClient):
            return "client"
        return "owner" if self._server is not None else "alone"

    def describe(self) -> str:
        """Where this process reads the store, for an operator."""
        role = self.connect()
        if isinstance(self._target, StoreClient):
            return f"held by costbot process {self._target.owner_pid or '?'}, used through {self.socket.name}"
        return {"owner": "held by this process, served on " + self.socket.name,
                "alone": "opened by this command (no costbot service holds it)"}.get(role, role)

    def connect(self) -> Role:
        """Find the owner or become it now (instead of at the first call)."""
        self._current()
        role = self.role
        assert role is not None
        return role

    def _current(self) -> DuckDBCostStore | StoreClient:
        with self._lock:
            if self._target is None:
                self._target = self._locate()
            return self._target

    def _locate(self) -> DuckDBCostStore | StoreClient:
        deadline = time.monotonic() + self.look_seconds
        while True:
            client = StoreClient(self.socket)
            if client.ping():
                log.info("the cost store is held by another costbot process: going through it")
                return client
            store = self._open_store()
            try:
                store.cursor().close()  # takes the file's lock, or fails with StoreBusy
            except StoreBusy:
                store.close()
                if time.monotonic() >= deadline:
                    raise StoreBusy(
                        f"the cost store {store.path} is held by another costbot command that serves no other "
                        "process (only `costbot serve` and `costbot scheduler` do): try again when it has "
                        "finished") from None
                time.sleep(_RETRY_SECONDS)
                continue
            if self.publish:
                try:
                    self._server = StoreServer(self.socket, store).start()
                except OSError as exc:  # e.g. a read-only folder: this process still answers, others cannot
                    log.warning("could not open %s for other costbot commands (%s): they will find the store busy",
                                self.socket, exc.strerror or type(exc).__name__)
            return store

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        target = self._current()
        try:
            return getattr(target, method)(*args, **kwargs)
        except StoreGone:
            with self._lock:
                if self._target is target:  # the owner stopped: look again (and maybe take over)
                    log.warning("the costbot process holding the cost store has stopped; looking for the store")
                    self._target = None
            return getattr(self._current(), method)(*args, **kwargs)

    def rest_when_idle(self, idle_seconds: float) -> None:
        """For the long-lived processes: while this process holds the file, after `idle_seconds` without a
        question or a write (0: never), fold the billing files the store keeps into its table one by one (so
        questions that read line items find tag columns), then give the store's cached pages back, so the service
        rests small between bursts."""
        if idle_seconds <= 0 or self._watch is not None:
            return

        def watch() -> None:
            yield_cpu_to_answers()  # a compaction here takes the CPU questions leave
            while not self._resting.wait(max(1.0, min(idle_seconds / 4, 15.0))):
                target = self._target
                if not isinstance(target, DuckDBCostStore):
                    continue
                try:
                    if target.compact_when_idle(idle_seconds):
                        log.info("cost store idle for %.0f s: kept billing files folded or deleted", idle_seconds)
                        continue  # the next file (or the release) waits for the next quiet spell
                except Exception as exc:  # the watch outlives a failure: nothing changed (one transaction), the
                    # file is skipped from now on, and the release below still comes
                    log.warning("folding a kept billing file into the store failed: %s", exc)
                if target.release_idle_memory(idle_seconds):
                    log.debug("cost store idle for %.0f s: cached pages released", idle_seconds)

        self._watch = threading.Thread(target=watch, name="costbot-store-rest", daemon=True)
        self._watch.start()

    def close(self) -> None:
        self._resting.set()
        with self._lock:
            if self._server is not None:
                self._server.close()
                self._server = None
            if isinstance(self._target, DuckDBCostStore):
                self._target.close()
            self._target = None

    # CostQueries
    def totals(self, spec: CostSpec, previous: tuple[date, date]) -> Totals:
        result: Totals = self._call("totals", spec, previous)
        return result

    def groups(self, spec: CostSpec, grouping: Grouping, top: int | None = None) -> list[tuple[str, Decimal]]:
        result: list[tuple[str, Decimal]] = self._call("groups", spec, grouping, top)
        return result

    def daily(self, spec: CostSpec, grouping: Grouping) -> list[DailyRow]:
        result: list[DailyRow] = self._call("daily", spec, grouping)
        return result

    def quantities(self, spec: CostSpec, grouping: Grouping) -> list[tuple[str, Decimal]]:
        result: list[tuple[str, Decimal]] = self._call("quantities", spec, grouping)
        return result

    def freshness(self) -> date | None:
        result: date | None = self._call("freshness")
        return result

    def first_day(self) -> date | None:
        result: date | None = self._call("first_day")
        return result

    def distinct_values(self, column: str) -> list[str]:
        result: list[str] = self._call("distinct_values", column)
        return result

    def tag_keys(self) -> Sequence[str]:
        result: Sequence[str] = self._call("tag_keys")
        return result

    def tag_values(self, key: str) -> list[str]:
        result: list[str] = self._call("tag_values", key)
        return result

    def resource_names(self) -> dict[str, str]:
        result: dict[str, str] = self._call("resource_names")
        return result

    def row_count(self) -> int:
        return int(self._call("row_count"))

    def sources(self) -> Sequence[tuple[str, int]]:
        result: Sequence[tuple[str, int]] = self._call("sources")
        return result

    # CostIngest
    def ingest_files(
        self, paths: Iterable[Path], source: str | None = None,
        progress: Callable[[Path, int, int], None] | None = None, replace: Iterable[tuple[str, date]] = (),
        replace_sources: Iterable[str] = (), complements: Iterable[tuple[str, str]] = (),
    ) -> IngestSummary:
        result: IngestSummary = self._call("ingest_files", list(paths), source=source, progress=progress,
                                           replace=list(replace), replace_sources=list(replace_sources),
                                           complements=list(complements))
        return result

    def source_etags(self, source: str) -> dict[str, str]:
        result: dict[str, str] = self._call("source_etags", source)
        return result

    def record_source_files(self, source: str, etags: dict[str, str]) -> None:
        self._call("record_source_files", source, etags)

    def record_sync(self, source: str) -> None:
        self._call("record_sync", source)

    def clear_periods(self, source: str, periods: Iterable[tuple[str, date]]) -> int:
        return int(self._call("clear_periods", source, list(periods)))

    def fold_kept_files(self) -> int:
        return int(self._call("fold_kept_files"))

    def holdings(self) -> list[SourceHolding]:
        result: list[SourceHolding] = self._call("holdings")
        return result

    def commitments(self) -> CommitmentReport:
        result: CommitmentReport = self._call("commitments")
        return result

    # UsageMetrics
    def ingest_usage(self, path: Path) -> int:
        return int(self._call("ingest_usage", path))

    def usage_by_team(self, metric: str, start: date, end: date) -> dict[str, Decimal]:
        result: dict[str, Decimal] = self._call("usage_by_team", metric, start, end)
        return result
