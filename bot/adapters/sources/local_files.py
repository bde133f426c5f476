"""A folder of FOCUS / CUR files as a synced source (`kind: focus_files`): changed files are re-ingested."""

from __future__ import annotations

import os
from collections import Counter
from datetime import date
from pathlib import Path
from typing import ClassVar

from bot.adapters.sources.raw_files import discover
from bot.domain.errors import IngestError, SourceError
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
        """Raises SourceError when the folder cannot be read: a source that is gone is an error, not "no
        changes" (its data would silently go stale)."""
        problems = self.check()
        if problems:
            raise SourceError(f"cannot read source '{self.name}': {'; '.join(problems)}")
        try:
            files = discover([self.path])
            stamps = {str(f): f"{f.stat().st_size}-{f.stat().st_mtime_ns}" for f in files}
        except (OSError, IngestError) as exc:
            raise SourceError(f"cannot read source '{self.name}' at {self.path}: {exc}") from None
        self.seen = stamps
        if all(known.get(k) == v for k, v in stamps.items()):
            return SourceBatch([], [], "no changes")
        return SourceBatch(files, [], f"{len(files)} files")

    def check(self) -> list[str]:
        if not self.path.exists():
            return [f"{self.path} does not exist"]
        if not self.path.is_dir():
            return [f"{self.path} is not a folder"]
        if not os.access(self.path, os.R_OK | os.X_OK):
            return [f"{self.path} cannot be read (permissions)"]
        return []
