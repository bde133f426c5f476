"""Billing file formats, recognized by their columns: each entry says how to tell its files apart and how to
map their columns to FOCUS. A new format (a provider's export, a FOCUS version) = one module + one line here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.adapters.sources.cur import cur_mapping, is_cur
from bot.adapters.sources.focus_files import focus_mapping, is_focus
from bot.adapters.sources.mapping import ColumnIndex, Mapping
from bot.adapters.sources.raw_files import RawFile
from bot.domain.errors import IngestError


@dataclass(frozen=True)
class FileFormat:
    name: str
    recognizes: Callable[[RawFile], bool]
    mapping: Callable[[RawFile], Mapping] | None  # None: a known dataset that holds no charges
    dataset: str = "costs"  # where its rows go: `costs`, or `commitments` (the store reads those itself)
    # the same mapping once the store has read which tag keys the file holds (over `Mapping.tags_over_raw`):
    # lookups of keys no row holds are left out of the insert; None: the keys do not matter to the mapping
    keyed: Callable[[RawFile, frozenset[str]], Mapping] | None = None


def is_focus_contract_commitment(raw: RawFile) -> bool:
    """FOCUS 1.3's second dataset: commitments (what is committed, until when), not charges."""
    index = ColumnIndex(raw)
    return index.get("ContractCommitmentId") is not None and not is_focus(raw)


#: tried in order: CUR first (a CUR 2.0 file can carry FOCUS-like names among its own)
FORMATS: tuple[FileFormat, ...] = (
    FileFormat("cur", is_cur, cur_mapping),
    FileFormat("focus", is_focus, focus_mapping, keyed=focus_mapping),
    FileFormat("focus-contract-commitment", is_focus_contract_commitment, None, "commitments"),
)


def format_for(raw: RawFile) -> FileFormat:
    for fmt in FORMATS:
        if fmt.recognizes(raw):
            return fmt
    raise IngestError(
        "not a FOCUS or AWS CUR file: expected a ChargePeriodStart/BilledCost column (FOCUS) or "
        "line_item_unblended_cost / lineItem/UnblendedCost (CUR)",
        str(raw.path),
    )

