"""A folder of FOCUS / CUR files as a synced source (`kind: focus_files`): changed files are re-ingested."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from typing import ClassVar

from bot.adapters.sources.raw_files import discover
from bot.domain.ingest import SourceBatch


class LocalFilesSource:
    kind = "focus_files"
    PERMISSIONS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, name: str, path: str) -> None:
        self.name = name
        self.path = Path(path)
        self.requests: Counter[str] = Counter()
        self.seen: dict[str, str] = {}

    def pull(self, since: date, until: date, workdir: Path, known: dict[str, str]) -> SourceBatch:
        files = discover([self.path]) if self.path.exists() else []
        stamps = {str(f): f"{f.stat().st_size}-{f.stat().st_mtime_ns}" for f in files}
        self.seen = stamps
        if all(known.get(k) == v for k, v in stamps.items()):
            return SourceBatch([], [], "no changes")
        return SourceBatch(files, [], f"{len(files)} files")

    def check(self) -> list[str]:
        return [] if self.path.is_dir() else [f"{self.path} is not a folder"]
