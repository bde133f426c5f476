"""Loading billing files and usage metrics into the store (validation and replacement live in the store), and
what each source holds."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from bot.domain.actions import ActionNotAllowed
from bot.domain.commitments import CommitmentReport
from bot.domain.errors import CostbotError
from bot.domain.ingest import IngestSummary, SourceHolding
from bot.domain.money import ZERO
from bot.ports import CostIngest, UsageMetrics

QUERY_ONLY = "with an Athena source the billing data stays in S3: `costbot {}` is not used"


class IngestService:
    def __init__(self, store: CostIngest | None, usage: UsageMetrics | None,
                 complements: Iterable[tuple[str, str]] = (), configured: Sequence[str] = (),
                 admins: Sequence[str] = ()) -> None:
        self.store = store  # None on a query-only engine (Athena)
        self.usage = usage
        self.complements = set(complements)  # source labels that may share billing account-months
        self.configured = list(configured)  # the sources of costbot.yml, listed even before they hold anything
        self.admins = list(admins)

    def ingest(
        self, paths: Sequence[Path], source: str | None = None,
        progress: Callable[[Path, int, int], None] | None = None, replace_sources: Sequence[str] = (),
    ) -> IngestSummary:
        """Raises SourceOverlap (nothing changed) when the files carry billing account-months another source
        holds, unless that source is replaced (`replace_sources`) or declared complementary in the config."""
        if self.store is None:
            raise CostbotError(QUERY_ONLY.format("ingest"))
        return self.store.ingest_files(paths, source=source, progress=progress, replace_sources=replace_sources,
                                       complements=self.complements)

    def fold(self) -> int:
        """Fold the billing files the store keeps into its table now (the idle service does it on its own)."""
        if self.store is None:
            raise CostbotError(QUERY_ONLY.format("fold"))
        return self.store.fold_kept_files()

    def ingest_usage(self, path: Path) -> int:
        if self.usage is None:
            raise CostbotError(QUERY_ONLY.format("ingest-usage"))
        return self.usage.ingest_usage(path)

    def holdings(self) -> list[SourceHolding]:
        """What each source holds (configured sources that hold nothing yet included)."""
        if self.store is None:
            raise CostbotError(QUERY_ONLY.format("sources list"))
        found = self.store.holdings()
        names = {h.name for h in found}
        found += [SourceHolding(name, (), (), 0, ZERO, ZERO, None) for name in self.configured if name not in names]
        return [replace(h, configured=h.name in self.configured) for h in sorted(found, key=lambda h: h.name)]

    def commitments(self) -> CommitmentReport:
        """`/cost commitments`: what is committed, until when, and how much the bill has applied so far."""
        if self.store is None:
            raise CostbotError(QUERY_ONLY.format("commitments"))
        return self.store.commitments()

    def holdings_for(self, user: str | None) -> list[SourceHolding]:
        """`/cost sources`: admins only (the accounts and totals of every source); a terminal is an operator."""
        if user is not None and user not in self.admins:
            raise ActionNotAllowed("only admins can list the billing sources")
        return self.holdings()
