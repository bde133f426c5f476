"""What an operator asks first (`costbot status`): version, the store, sources, the scheduler, what waits for
approval and what failed lately. Plain data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True)
class SourceStatus:
    name: str
    rows: int
    last_loaded: datetime | None  # UTC: the last ingest that changed its rows
    last_sync: datetime | None  # UTC: the last successful sync (configured sources)
    configured: bool  # a `sources:` entry (synced by the scheduler), not a label from `costbot ingest`


@dataclass(frozen=True)
class PlannedRun:
    job: str  # scheduler job id
    what: str
    next_run: datetime | None


@dataclass(frozen=True)
class WaitingApproval:
    request_id: int
    action: str
    resource_key: str
    team: str | None
    requested_by: str
    expires_at: datetime


@dataclass(frozen=True)
class RecentError:
    at: datetime
    what: str
    error: str


@dataclass(frozen=True)
class OperatorStatus:
    version: str
    store: str  # where the billing data is read: this process, the running service, or a query engine
    rows: int
    data_through: date | None
    sources: tuple[SourceStatus, ...]
    leader: str | None  # the scheduler holding the lease, if any
    leader_until: datetime | None
    runs: tuple[PlannedRun, ...]
    approvals: tuple[WaitingApproval, ...]
    errors: tuple[RecentError, ...]
    advice: tuple[str, ...] = ()  # the store has outgrown one machine: what to do (bot/domain/capacity.py)

    def to_json(self) -> dict[str, Any]:
        def when(value: datetime | date | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "version": self.version, "store": self.store, "rows": self.rows, "data_through": when(self.data_through),
            "sources": [{"name": s.name, "rows": s.rows, "last_loaded": when(s.last_loaded),
                         "last_sync": when(s.last_sync), "configured": s.configured} for s in self.sources],
            "scheduler": {"leader": self.leader, "lease_until": when(self.leader_until),
                          "next_runs": [{"job": r.job, "what": r.what, "at": when(r.next_run)} for r in self.runs]},
            "approvals": [{"id": a.request_id, "action": a.action, "resource": a.resource_key, "team": a.team,
                           "requested_by": a.requested_by, "expires_at": when(a.expires_at)} for a in self.approvals],
            "errors": [{"at": when(e.at), "what": e.what, "error": e.error} for e in self.errors],
            "advice": list(self.advice),
        }
