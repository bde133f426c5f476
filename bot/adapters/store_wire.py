"""What travels between a costbot command and the process that owns the cost store: the port methods that may
be called, their arguments and results as JSON, and errors by kind.

Only the domain's plain data types cross (a fixed list, so a message can never build anything else); Decimal
money stays exact (sent as text), dates stay dates, and a CostbotError is raised again on the calling side with
the same kind and message (an IngestError with its file, row and column).
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.domain import errors
from bot.domain.commitments import Commitment, CommitmentReport
from bot.domain.figures import DailyRow, Totals
from bot.domain.ingest import IngestSummary, SourceHolding
from bot.domain.spec import (
    AllOf,
    AnyOf,
    ColumnGlob,
    ColumnIn,
    CostSpec,
    Grouping,
    TagMissing,
    TagsMatch,
    TeamIs,
    TeamRule,
)

VERSION = "1"  # the protocol; a client and a server of different versions refuse each other

#: the port methods a client may call (CostQueries, CostIngest, UsageMetrics and the store's status)
METHODS = frozenset({
    "totals", "groups", "daily", "quantities", "freshness", "first_day", "distinct_values", "tag_keys", "tag_values",
    "resource_names", "row_count", "sources",
    "ingest_files", "source_etags", "record_source_files", "record_sync", "clear_periods", "fold_kept_files",
    "holdings",
    "commitments",
    "ingest_usage", "usage_by_team",
})

_TYPES: dict[str, type] = {cls.__name__: cls for cls in (
    CostSpec, Grouping, TeamRule, TagsMatch, ColumnIn, TagMissing, AllOf, AnyOf, ColumnGlob, TeamIs, Totals, DailyRow,
    IngestSummary, SourceHolding, Commitment, CommitmentReport,
)}
_ERRORS: dict[str, type[errors.CostbotError]] = {
    name: cls for name, cls in vars(errors).items()
    if isinstance(cls, type) and issubclass(cls, errors.CostbotError)
}


class WireError(ValueError):
    """A message that is not one of ours."""


def encode(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = type(value).__name__
        if _TYPES.get(name) is not type(value):
            raise WireError(f"{name} does not travel")
        return {"$type": name, **{f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {"$map": [[encode(k), encode(v)] for k, v in value.items()]}
    raise WireError(f"{type(value).__name__} does not travel")


def decode(value: Any, in_dataclass: bool = False) -> Any:
    """`in_dataclass`: sequences become tuples (the domain's frozen dataclasses hold tuples)."""
    if isinstance(value, list):
        items = [decode(v, in_dataclass) for v in value]
        return tuple(items) if in_dataclass else items
    if not isinstance(value, dict):
        return value
    if "$decimal" in value:
        return Decimal(value["$decimal"])
    if "$date" in value:
        return date.fromisoformat(value["$date"])
    if "$datetime" in value:
        return datetime.fromisoformat(value["$datetime"])
    if "$map" in value:
        return {_hashable(decode(k)): decode(v, in_dataclass) for k, v in value["$map"]}
    if "$type" in value:
        cls = _TYPES.get(str(value["$type"]))
        if cls is None:
            raise WireError(f"unknown type {str(value['$type'])[:40]!r}")
        fields = {f.name for f in dataclasses.fields(cls)}
        given = {k: decode(v, True) for k, v in value.items() if k != "$type"}
        if not set(given) <= fields:
            raise WireError(f"unknown field(s) of {cls.__name__}")
        return cls(**given)
    raise WireError("unknown value")


def _hashable(value: Any) -> Any:
    return tuple(_hashable(v) for v in value) if isinstance(value, list) else value


def error_payload(exc: errors.CostbotError) -> dict[str, Any]:
    """A CostbotError as the owner sends it back (its kind, message and what its constructor needs)."""
    payload: dict[str, Any] = {"kind": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, errors.IngestError):
        payload.update(reason=exc.reason, path=exc.path, row=exc.row, column=exc.column)
    if isinstance(exc, errors.QueryError):
        payload.update(word=exc.word, suggestion=exc.suggestion)
    return payload


def error_from(payload: dict[str, Any]) -> errors.CostbotError:
    """The error the owner raised, raised again here with the same kind and message."""
    cls = _ERRORS.get(str(payload.get("kind")), errors.CostbotError)
    message = str(payload.get("message") or "the costbot service could not do this")
    if issubclass(cls, errors.IngestError):
        return cls(str(payload.get("reason") or message), str(payload.get("path") or ""), payload.get("row"),
                   payload.get("column"))
    if issubclass(cls, errors.QueryError):
        return cls(message, payload.get("word"), payload.get("suggestion"))
    if issubclass(cls, errors.ProviderError):
        return cls(message)
    try:
        return cls(message)
    except TypeError:
        return errors.CostbotError(message)
