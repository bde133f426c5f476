"""Loading billing files and usage metrics into the store (validation and replacement live in the store)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from bot.domain.errors import CostbotError
from bot.domain.ingest import IngestSummary
from bot.ports import CostIngest, UsageMetrics

QUERY_ONLY = "with an Athena source the billing data stays in S3: `costbot {}` is not used"


class IngestService:
    def __init__(self, store: CostIngest | None, usage: UsageMetrics | None) -> None:
        self.store = store  # None on a query-only engine (Athena)
        self.usage = usage

    def ingest(
        self, paths: Sequence[Path], source: str | None = None,
        progress: Callable[[Path, int, int], None] | None = None,
    ) -> IngestSummary:
        if self.store is None:
            raise CostbotError(QUERY_ONLY.format("ingest"))
        return self.store.ingest_files(paths, source=source, progress=progress)

    def ingest_usage(self, path: Path) -> int:
        if self.usage is None:
            raise CostbotError(QUERY_ONLY.format("ingest-usage"))
        return self.usage.ingest_usage(path)
