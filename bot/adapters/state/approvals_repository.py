"""Approval requests for plans (SQLAlchemy): one row per plan hash and team, under a unique key, decided by a
conditional update so that the first Approve or Reject wins across replicas."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot.adapters.state.base import SqlRepository, aware, now
from bot.adapters.state.models import PlanApprovalRow
from bot.domain.estimate import PlanApproval
from bot.domain.money import to_cents

NO_TEAM = ""  # lines no team owns: decided by the admins


def _to_domain(row: PlanApprovalRow) -> PlanApproval:
    return PlanApproval(
        plan_hash=row.plan_hash, team=row.team or None, status=row.status, requested_by=row.requested_by,
        monthly_delta=Decimal(row.monthly_delta), one_off=Decimal(row.one_off),
        reasons=tuple(json.loads(row.reasons or "[]")), title=row.title,
        headroom_after=Decimal(row.headroom_after) if row.headroom_after is not None else None,
        currency=row.currency, id=row.id, decided_by=row.decided_by,
        decided_at=aware(row.decided_at) if row.decided_at else None, created_at=aware(row.created_at),
        expires_at=aware(row.expires_at), channel=row.channel, message_ts=row.message_ts,
    )


class SqlPlanApprovalStore(SqlRepository):

    def _row(self, plan_hash: str, team: str | None) -> PlanApprovalRow | None:
        with self._session() as s:
            return s.scalar(select(PlanApprovalRow).where(PlanApprovalRow.plan_hash == plan_hash,
                                                          PlanApprovalRow.team == (team or NO_TEAM)))

    def request(self, approval: PlanApproval) -> tuple[PlanApproval, bool]:
        """Insert under (plan, team); an existing row is returned as it is, unless it has expired undecided or
        its approval ran out, when it is asked again (a rejection stands)."""
        values = dict(
            status="requested", requested_by=approval.requested_by[:128], title=approval.title[:300],
            monthly_delta=to_cents(approval.monthly_delta), one_off=to_cents(approval.one_off),
            headroom_after=to_cents(approval.headroom_after) if approval.headroom_after is not None else None,
            currency=approval.currency, reasons=json.dumps(list(approval.reasons)),
            created_at=approval.created_at or now(), expires_at=approval.expires_at or now(),
        )
        try:
            with self._session() as s:
                row = PlanApprovalRow(plan_hash=approval.plan_hash, team=approval.team or NO_TEAM, **values)
                s.add(row)
                s.flush()
                return _to_domain(row), True
        except IntegrityError:
            pass
        existing = self._row(approval.plan_hash, approval.team)
        assert existing is not None
        moment = now()
        if existing.status != "rejected" and aware(existing.expires_at) <= moment:
            with self._session() as s:
                renewed = s.execute(
                    update(PlanApprovalRow)
                    .where(PlanApprovalRow.id == existing.id, PlanApprovalRow.status != "rejected",
                           PlanApprovalRow.expires_at <= moment)
                    .values(**values, decided_by=None, decided_at=None, channel=None, message_ts=None))
            if renewed.rowcount:  # type: ignore[attr-defined]
                found = self.approval(existing.id)
                assert found is not None
                return found, True
        found = self.approval(existing.id)
        assert found is not None
        return found, False

    def approval(self, approval_id: int) -> PlanApproval | None:
        with self._session() as s:
            row = s.get(PlanApprovalRow, approval_id)
            return _to_domain(row) if row else None

    def for_plan(self, plan_hash: str) -> list[PlanApproval]:
        with self._session() as s:
            rows = s.scalars(select(PlanApprovalRow).where(PlanApprovalRow.plan_hash == plan_hash)
                             .order_by(PlanApprovalRow.id))
            return [_to_domain(r) for r in rows]

    def decide(self, approval_id: int, status: str, user: str) -> bool:
        """requested -> approved | rejected, once: true for the one caller whose update took effect."""
        moment: datetime = now()
        with self._session() as s:
            done = s.execute(update(PlanApprovalRow)
                             .where(PlanApprovalRow.id == approval_id, PlanApprovalRow.status == "requested",
                                    PlanApprovalRow.expires_at > moment)
                             .values(status=status, decided_by=user, decided_at=moment))
            return bool(done.rowcount)  # type: ignore[attr-defined]

    def set_message(self, approval_id: int, channel: str, ts: str) -> None:
        with self._session() as s:
            s.execute(update(PlanApprovalRow).where(PlanApprovalRow.id == approval_id)
                      .values(channel=channel, message_ts=ts))
