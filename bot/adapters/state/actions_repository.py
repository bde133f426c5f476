"""Recommendations, action requests and the audit log on SQLAlchemy.

Two guards make actions happen exactly once. `create_request` inserts under a unique index on `open_key` (the
resource key while a request is open), so a resource has at most one open action whatever the number of
clicks, replicas or retries: a second insert fails in the database and the caller gets the open request
instead. `transition` is a conditional UPDATE from the expected states, so of several deciders exactly one
moves a request on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.adapters.state.base import SqlRepository, aware, now
from bot.adapters.state.models import ActionClickRow, ActionRequestRow, AuditRow, RecommendationRow
from bot.domain.actions import FINAL, OPEN, ActionRequest, AuditEntry, action_kind, check_transition, status_of
from bot.domain.recommendations import Recommendation
from bot.telemetry import action_audited

CLICK_CLAIM_TTL = timedelta(minutes=2)  # a click not turned into a request by then was abandoned


def _rec(row: RecommendationRow) -> Recommendation:
    return Recommendation(
        resource_key=row.resource_key, kind=row.kind, team=row.team, name=row.name,
        resource_type=row.resource_type, reason=row.reason, target_type=row.target_type,
        hourly_price=row.hourly_price, monthly_savings=row.monthly_savings, status=row.status, id=row.id,
        channel=row.channel, message_ts=row.message_ts, close_reason=row.close_reason,
    )


def _req(row: ActionRequestRow) -> ActionRequest:
    return ActionRequest(
        id=row.id, resource_key=row.resource_key, action=action_kind(row.action), team=row.team,
        requested_by=row.requested_by, status=status_of(row.status), created_at=aware(row.created_at),
        expires_at=aware(row.expires_at),
        params=json.loads(row.params or "{}"), approved_by=row.approved_by, result=row.result, error=row.error,
        channel=row.channel, message_ts=row.message_ts, undo_of=row.undo_of,
        updated_at=aware(row.updated_at) if row.updated_at else None,
    )


class SqlActionStore(SqlRepository):

    # -- recommendations -------------------------------------------------------------------------------
    def upsert_recommendation(self, rec: Recommendation) -> Recommendation:
        """One open recommendation per resource and kind: a re-scan refreshes it instead of adding one."""
        current = now()
        with self._session() as s:
            row = s.scalar(select(RecommendationRow).where(
                RecommendationRow.resource_key == rec.resource_key, RecommendationRow.kind == rec.kind,
                RecommendationRow.status == "open"))
            if row is None:
                row = RecommendationRow(resource_key=rec.resource_key, kind=rec.kind, status="open", first_seen=current,
                                        name=rec.name, resource_type=rec.resource_type, reason=rec.reason,
                                        last_seen=current)
                s.add(row)
            row.team, row.name, row.resource_type, row.reason = rec.team, rec.name, rec.resource_type, rec.reason
            row.target_type, row.hourly_price, row.monthly_savings = rec.target_type, rec.hourly_price, \
                rec.monthly_savings
            row.last_seen = current
            s.flush()
            return _rec(row)

    def close_recommendations(self, keep_ids: set[int], scope_keys: set[str] | None = None,
                              reasons: dict[str, str] | None = None) -> list[Recommendation]:
        """Close open recommendations not in `keep_ids` (gone, busy again, protected, snoozed); with
        `scope_keys`, only among those resources' recommendations. `reasons` says why, per resource key.
        Returns what was closed (their messages lose their buttons)."""
        reasons = reasons or {}
        with self._session() as s:
            rows = list(s.scalars(select(RecommendationRow).where(RecommendationRow.status == "open")))
            closing = [r for r in rows if r.id not in keep_ids and (scope_keys is None or r.resource_key in scope_keys)]
            for r in closing:
                r.status, r.closed_at = "closed", now()
                r.close_reason = reasons.get(r.resource_key, "no longer found idle or oversized by a scan")[:300]
            s.flush()
            return [_rec(r) for r in closing]

    def close_recommendations_for(self, resource_key: str, reason: str = "acted on") -> None:
        with self._session() as s:
            s.execute(update(RecommendationRow).where(RecommendationRow.resource_key == resource_key,
                                                      RecommendationRow.status == "open")
                      .values(status="closed", closed_at=now(), close_reason=reason[:300]))

    def recommendation(self, rec_id: int) -> Recommendation | None:
        with self._session() as s:
            row = s.get(RecommendationRow, rec_id)
            return _rec(row) if row else None

    def open_recommendations(self, team: str | None = None) -> list[Recommendation]:
        with self._session() as s:
            # unknown savings last on every backend (PostgreSQL sorts NULLs first in a descending order)
            q = select(RecommendationRow).where(RecommendationRow.status == "open").order_by(
                RecommendationRow.monthly_savings.desc().nulls_last(), RecommendationRow.id)
            if team is not None:
                q = q.where(RecommendationRow.team == team)
            return [_rec(r) for r in s.scalars(q)]

    def recommendation_for(self, resource_key: str) -> Recommendation | None:
        with self._session() as s:
            row = s.scalar(select(RecommendationRow).where(RecommendationRow.resource_key == resource_key)
                           .order_by(RecommendationRow.status.desc(), RecommendationRow.id.desc()))
            return _rec(row) if row else None

    def recommendations_in_message(self, channel: str, ts: str) -> list[Recommendation]:
        with self._session() as s:
            q = select(RecommendationRow).where(RecommendationRow.channel == channel,
                                                RecommendationRow.message_ts == ts).order_by(RecommendationRow.id)
            return [_rec(r) for r in s.scalars(q)]

    def set_recommendation_message(self, rec_ids: Sequence[int], channel: str, ts: str) -> None:
        with self._session() as s:
            s.execute(update(RecommendationRow).where(RecommendationRow.id.in_(list(rec_ids)))
                      .values(channel=channel, message_ts=ts))

    def set_recommendation_team(self, resource_key: str, team: str | None) -> None:
        with self._session() as s:
            s.execute(update(RecommendationRow).where(RecommendationRow.resource_key == resource_key,
                                                      RecommendationRow.status == "open").values(team=team))

    # -- action requests -------------------------------------------------------------------------------
    def create_request(self, *, resource_key: str, action: str, team: str | None, requested_by: str,
                       status: str, expires_at: datetime, params: dict[str, str] | None = None,
                       approved_by: str | None = None, channel: str | None = None, message_ts: str | None = None,
                       undo_of: int | None = None) -> tuple[ActionRequest, bool]:
        """A new request, or the resource's open one when it has one: (request, True if created here)."""
        for _attempt in range(3):
            current = now()
            try:
                with self._session() as s:
                    row = ActionRequestRow(resource_key=resource_key, action=action, params=json.dumps(params or {}),
                                           team=team, requested_by=requested_by, status=status,
                                           approved_by=approved_by, created_at=current, expires_at=expires_at,
                                           updated_at=current, channel=channel, message_ts=message_ts,
                                           undo_of=undo_of, open_key=resource_key if status in OPEN else None)
                    s.add(row)
                    s.flush()
                    return _req(row), True
            except IntegrityError:
                existing = self.open_request(resource_key)
                if existing is not None:
                    return existing, False
                # the open one closed between our insert and our read: the resource is free again
        raise RuntimeError(f"could not record an action request for {resource_key}")

    def open_request(self, resource_key: str) -> ActionRequest | None:
        with self._session() as s:
            row = s.scalar(select(ActionRequestRow).where(ActionRequestRow.open_key == resource_key))
            return _req(row) if row else None

    def request(self, request_id: int) -> ActionRequest | None:
        with self._session() as s:
            row = s.get(ActionRequestRow, request_id)
            return _req(row) if row else None

    def latest_request(self, resource_key: str) -> ActionRequest | None:
        with self._session() as s:
            row = s.scalar(select(ActionRequestRow).where(ActionRequestRow.resource_key == resource_key)
                           .order_by(ActionRequestRow.id.desc()).limit(1))
            return _req(row) if row else None

    def transition(self, request_id: int, from_statuses: Sequence[str], to: str, owner: str | None = None,
                   silent_since: datetime | None = None, **fields: Any) -> bool:
        """Move the request to `to` only if it is still in one of `from_statuses` — and, with `owner`, still
        held by that executor; with `silent_since`, only if its executor has been silent since then. True for
        the one winner. A final state frees the resource; `executing` records its executor and heartbeat.
        Only moves of the domain's state machine (TRANSITIONS) are made: any other raises ActionNotAllowed."""
        for source in from_statuses:
            check_transition(source, to)
        current = now()
        values: dict[str, Any] = {"status": to, "updated_at": current, **fields}
        if to in FINAL:
            values["open_key"] = None
        conditions = [ActionRequestRow.id == request_id, ActionRequestRow.status.in_(list(from_statuses))]
        if to == "executing":
            values["owner"], values["heartbeat_at"] = owner, current
        elif owner is not None:
            conditions.append(ActionRequestRow.owner == owner)
        if silent_since is not None:
            conditions.append(or_(ActionRequestRow.heartbeat_at.is_(None),
                                  ActionRequestRow.heartbeat_at < silent_since))
        with self._session() as s:
            result = s.execute(update(ActionRequestRow).where(*conditions).values(**values))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def heartbeat(self, request_id: int, owner: str) -> bool:
        """The executor is alive: renew its hold on an executing request. False when it lost it."""
        with self._session() as s:
            result = s.execute(update(ActionRequestRow)
                               .where(ActionRequestRow.id == request_id, ActionRequestRow.status == "executing",
                                      ActionRequestRow.owner == owner)
                               .values(heartbeat_at=now()))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def abandoned(self, silent_since: datetime) -> list[ActionRequest]:
        """Executing requests whose executor has not renewed its heartbeat since `silent_since` (or never
        had one): their process is gone."""
        with self._session() as s:
            q = select(ActionRequestRow).where(
                ActionRequestRow.status == "executing",
                or_(ActionRequestRow.heartbeat_at.is_(None), ActionRequestRow.heartbeat_at < silent_since),
            ).order_by(ActionRequestRow.id)
            return [_req(r) for r in s.scalars(q)]

    # -- clicks --------------------------------------------------------------------------------------------
    def claim_click(self, click_key: str, stale_after: timedelta = CLICK_CLAIM_TTL) -> tuple[bool, int | None]:
        """(True, None) the first time a click is seen; (False, request id or None) for its replays. A claim
        that made no request within `stale_after` (its process died mid-click) can be claimed again."""
        try:
            with self._session() as s:
                s.add(ActionClickRow(click_key=click_key, request_id=None, created_at=now()))
            return True, None
        except IntegrityError:
            with self._session() as s:
                taken = s.execute(update(ActionClickRow).where(
                    ActionClickRow.click_key == click_key, ActionClickRow.request_id.is_(None),
                    ActionClickRow.created_at < now() - stale_after).values(created_at=now()))
                if taken.rowcount:  # type: ignore[attr-defined]
                    return True, None
                row = s.get(ActionClickRow, click_key)
                return False, (row.request_id if row else None)

    def release_click(self, click_key: str) -> None:
        """The click came to nothing (it was refused): forget it, so a replay is judged again."""
        with self._session() as s:
            s.execute(delete(ActionClickRow).where(ActionClickRow.click_key == click_key,
                                                   ActionClickRow.request_id.is_(None)))

    def set_click_request(self, click_key: str, request_id: int) -> None:
        with self._session() as s:
            s.execute(update(ActionClickRow).where(ActionClickRow.click_key == click_key)
                      .values(request_id=request_id))

    def requests_in(self, statuses: Sequence[str]) -> list[ActionRequest]:
        with self._session() as s:
            q = select(ActionRequestRow).where(ActionRequestRow.status.in_(list(statuses))).order_by(
                ActionRequestRow.id)
            return [_req(r) for r in s.scalars(q)]

    def set_request_message(self, request_id: int, channel: str, ts: str) -> None:
        with self._session() as s:
            s.execute(update(ActionRequestRow).where(ActionRequestRow.id == request_id)
                      .values(channel=channel, message_ts=ts))

    # -- audit -----------------------------------------------------------------------------------------
    def add_audit(self, entry: AuditEntry) -> None:
        with self._session() as s:
            s.add(AuditRow(at=entry.at, actor=entry.actor, action=entry.action, resource_key=entry.resource_key,
                           before=entry.before, after=entry.after, result=entry.result, error=entry.error,
                           request_id=entry.request_id, dry_run=entry.dry_run, detail=entry.detail))
        action_audited(entry.action, entry.result)

    def audit(self, limit: int = 20) -> list[AuditEntry]:
        with self._session() as s:
            rows = s.scalars(select(AuditRow).order_by(AuditRow.id.desc()).limit(limit))
            return [AuditEntry(at=aware(r.at), actor=r.actor, action=r.action, resource_key=r.resource_key,
                               before=r.before, after=r.after, result=r.result, error=r.error,
                               request_id=r.request_id, dry_run=r.dry_run, detail=r.detail) for r in rows]
