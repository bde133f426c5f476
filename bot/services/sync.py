"""Keeping billing data fresh: pull each configured source and replace what it re-read, atomically.

Each source is pulled into a scratch folder and ingested in one transaction; a source that fails leaves the
store as it was and does not stop the others.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from bot.domain.errors import CostbotError
from bot.ports import CostIngest, CostSource

log = logging.getLogger("costbot.sync")


@dataclass
class SourceResult:
    name: str
    ok: bool
    rows: int = 0
    note: str = ""
    error: str | None = None
    requests: dict[str, int] = field(default_factory=dict)


def default_since(today: date) -> date:
    """The current and the previous month: AWS restates recent days."""
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


@dataclass(frozen=True)
class SourceCheck:
    name: str
    kind: str
    permissions: tuple[str, ...]
    problems: tuple[str, ...]


class SyncService:
    def __init__(self, sources: Sequence[CostSource], store: CostIngest | None, today: Callable[[], date],
                 complements: Iterable[tuple[str, str]] = ()) -> None:
        self.sources = list(sources)
        self.store = store  # None on a query-only engine (Athena): nothing is pulled
        self.today = today
        self.complements = set(complements)  # source labels that may share billing account-months

    def names(self) -> list[str]:
        return [s.name for s in self.sources]

    def sync(self, name: str | None = None, since: date | None = None,
             progress: Callable[[str, int, int], None] | None = None,
             replace_sources: Sequence[str] = ()) -> list[SourceResult]:
        """Pull each source (or the one named) into the store, each on its own: one that cannot be read, or whose
        billing account-months another source holds (SourceOverlap, unless replaced or complementary), fails
        alone. `progress` hears (source, done, count) as each one starts and once all are done."""
        chosen = [s for s in self.sources if name is None or s.name == name]
        if name is not None and not chosen:
            raise CostbotError(f"no source named '{name}' (configured: {', '.join(self.names()) or 'none'})")
        if self.store is None:
            raise CostbotError("with an Athena source the billing data stays in S3: there is nothing to sync")
        store = self.store
        today = self.today()
        start = since or default_since(today)
        results = []
        for done, source in enumerate(chosen):
            if progress is not None:
                progress(source.name, done, len(chosen))
            source.requests.clear()
            try:
                with tempfile.TemporaryDirectory(prefix=f"costbot-sync-{source.name}-") as tmp:
                    known = store.source_etags(source.name)
                    batch = source.pull(start, today + timedelta(days=1), Path(tmp), known)
                    rows = 0
                    if batch.files or batch.replace:
                        if batch.files:
                            rows = store.ingest_files(batch.files, source=source.name, replace=batch.replace,
                                                      replace_sources=replace_sources,
                                                      complements=self.complements).rows
                        else:
                            store.clear_periods(source.name, batch.replace)
                    if source.seen:
                        store.record_source_files(source.name, source.seen)
                    store.record_sync(source.name)
                results.append(SourceResult(source.name, True, rows, batch.note, requests=dict(source.requests)))
            except CostbotError as exc:
                log.warning("sync of %s failed; the store is unchanged: %s", source.name, exc)
                results.append(SourceResult(source.name, False, error=str(exc), requests=dict(source.requests)))
        if progress is not None:
            progress("done", len(chosen), len(chosen))
        return results

    def check(self) -> list[SourceCheck]:
        """Each source's access: what it needs and what is missing."""
        return [SourceCheck(s.name, s.kind, tuple(s.PERMISSIONS), tuple(s.check())) for s in self.sources]
