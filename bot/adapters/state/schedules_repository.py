"""Off-hours schedules' state (SQLAlchemy): each event claimed once under a unique key, and a record per resource
and night moved on by conditional updates, so two schedulers or two clicks never both act on one resource."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.adapters.state.base import SqlRepository, aware, now
from bot.adapters.state.models import ScheduleEventRow, ScheduleNightRow
from bot.domain.schedules import NightResource, ScheduleEvent

FIELDS = ("reason", "by", "request_id", "stopped_at", "started_at", "hourly_cost", "cost_source")


def _night(row: ScheduleNightRow) -> NightResource:
    return NightResource(
        schedule=row.schedule, night=row.night, resource_key=row.resource_key, team=row.team, name=row.name,
        state=row.state, reason=row.reason, by=row.by_user, request_id=row.request_id,
        stopped_at=aware(row.stopped_at) if row.stopped_at else None,
        started_at=aware(row.started_at) if row.started_at else None,
        hourly_cost=Decimal(row.hourly_cost) if row.hourly_cost is not None else None, cost_source=row.cost_source)


def _event(row: ScheduleEventRow) -> ScheduleEvent:
    return ScheduleEvent(id=row.id, schedule=row.schedule, event=row.event, day=row.day, team=row.team or None,
                         actor=row.actor, channel=row.channel, message_ts=row.message_ts,
                         at=aware(row.at) if row.at is not None else None)


def _columns(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValueError(f"not a field of a schedule night: {', '.join(sorted(unknown))}")
    return {("by_user" if k == "by" else k): v for k, v in fields.items()}  # times: UtcDateTime keeps them UTC


class SqlScheduleStore(SqlRepository):

    # -- events ---------------------------------------------------------------------------------------------
    def claim_event(self, schedule: str, event: str, day: str, team: str | None, actor: str) -> bool:
        try:
            with self._session() as s:
                s.add(ScheduleEventRow(schedule=schedule, event=event, day=day, team=team or "", actor=actor,
                                       at=now()))
            return True
        except IntegrityError:
            return False

    def event(self, schedule: str, event: str, day: str, team: str | None) -> ScheduleEvent | None:
        with self._session() as s:
            row = s.scalar(select(ScheduleEventRow).where(
                ScheduleEventRow.schedule == schedule, ScheduleEventRow.event == event, ScheduleEventRow.day == day,
                ScheduleEventRow.team == (team or "")))
            return _event(row) if row is not None else None

    def event_by_id(self, event_id: int) -> ScheduleEvent | None:
        with self._session() as s:
            row = s.get(ScheduleEventRow, event_id)
            return _event(row) if row is not None else None

    def set_event_message(self, schedule: str, event: str, day: str, team: str | None, channel: str,
                          ts: str) -> None:
        with self._session() as s:
            s.execute(update(ScheduleEventRow).where(
                ScheduleEventRow.schedule == schedule, ScheduleEventRow.event == event, ScheduleEventRow.day == day,
                ScheduleEventRow.team == (team or "")).values(channel=channel, message_ts=ts))

    # -- nights ---------------------------------------------------------------------------------------------
    def add_nights(self, records: Sequence[NightResource]) -> int:
        """Insert each record unless the resource already has one for that night (kept as it is)."""
        added = 0
        for r in records:
            try:
                with self._session() as s:
                    s.add(ScheduleNightRow(
                        schedule=r.schedule, night=r.night, resource_key=r.resource_key, team=r.team, name=r.name,
                        state=r.state, updated_at=now(),
                        **_columns({k: getattr(r, k) for k in FIELDS if getattr(r, k) is not None})))
                added += 1
            except IntegrityError:
                continue
        return added

    def nights(self, schedule: str | None = None, night: date | None = None,
               states: Sequence[str] | None = None) -> list[NightResource]:
        with self._session() as s:
            q = select(ScheduleNightRow)
            if schedule is not None:
                q = q.where(ScheduleNightRow.schedule == schedule)
            if night is not None:
                q = q.where(ScheduleNightRow.night == night)
            if states is not None:
                q = q.where(ScheduleNightRow.state.in_(list(states)))
            rows = s.scalars(q.order_by(ScheduleNightRow.night, ScheduleNightRow.name, ScheduleNightRow.id))
            return [_night(r) for r in rows]

    def move_night(self, schedule: str, night: date, resource_key: str, from_states: Sequence[str], to: str,
                   **fields: Any) -> bool:
        with self._session() as s:
            result = s.execute(update(ScheduleNightRow).where(
                ScheduleNightRow.schedule == schedule, ScheduleNightRow.night == night,
                ScheduleNightRow.resource_key == resource_key, ScheduleNightRow.state.in_(list(from_states)))
                .values(state=to, updated_at=now(), **_columns(fields)))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def stopped_between(self, since: datetime, until: datetime) -> list[NightResource]:
        """Records of resources a schedule stopped whose time off overlaps [since, until)."""
        with self._session() as s:
            rows = s.scalars(select(ScheduleNightRow).where(
                ScheduleNightRow.stopped_at.is_not(None), ScheduleNightRow.stopped_at < until,
                or_(ScheduleNightRow.started_at.is_(None), ScheduleNightRow.started_at > since))
                .order_by(ScheduleNightRow.night, ScheduleNightRow.name))
            return [_night(r) for r in rows]
