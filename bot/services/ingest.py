"""Ingesting billing files into the cost store (validation and replacement live in the store adapter)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from bot.ports import CostStore, IngestSummary


class IngestService:
    def __init__(self, store: CostStore) -> None:
        self.store = store

    def ingest(
        self, paths: Sequence[Path], source: str | None = None,
        progress: Callable[[Path, int, int], None] | None = None,
    ) -> IngestSummary:
        return self.store.ingest_files(paths, source=source, progress=progress)
