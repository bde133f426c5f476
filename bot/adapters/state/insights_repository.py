"""Budgets set from Slack, budget alerts already sent, and anomalies found (SQLAlchemy).

`claim_budget_alert` and `save_anomaly` insert under a unique key: the one caller that inserts posts the
alert, so an alert goes out once per threshold and month (or per anomaly), across restarts and replicas.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot.adapters.state.base import SqlRepository, now
from bot.adapters.state.models import AnomalyRow, BudgetAlertRow, BudgetRow, InsightCheckRow
from bot.domain.anomalies import Anomaly, Cause


def _anomaly(row: AnomalyRow) -> Anomaly:
    causes = tuple(Cause(c["resource_id"], c["name"], c.get("usage_type"), Decimal(c["actual"]), Decimal(c["usual"]),
                         c.get("owner")) for c in json.loads(row.causes or "[]"))
    return Anomaly(row.team, row.service, row.day, Decimal(row.actual), Decimal(row.baseline), causes, row.id,
                   row.status)


class SqlInsightStore(SqlRepository):

    # -- budgets -----------------------------------------------------------------------------------------
    def set_budget(self, scope: str, monthly: Decimal, user: str) -> None:
        """An upsert that holds under concurrent admins: update, else insert, else (another insert won the race)
        update again; the last write wins."""
        def overwrite() -> bool:
            with self._session() as s:
                done = s.execute(update(BudgetRow).where(BudgetRow.scope == scope)
                                 .values(monthly=monthly, set_by=user, set_at=now()))
                return bool(done.rowcount)  # type: ignore[attr-defined]

        if overwrite():
            return
        try:
            with self._session() as s:
                s.add(BudgetRow(scope=scope, monthly=monthly, set_by=user, set_at=now()))
        except IntegrityError:
            overwrite()

    def budgets(self) -> dict[str, Decimal]:
        with self._session() as s:
            return {r.scope: Decimal(r.monthly) for r in s.scalars(select(BudgetRow))}

    def claim_budget_alert(self, scope: str, month: str, threshold: str) -> bool:
        try:
            with self._session() as s:
                s.add(BudgetAlertRow(scope=scope, month=month, threshold=threshold, posted_at=now()))
            return True
        except IntegrityError:
            return False

    # -- anomalies ---------------------------------------------------------------------------------------
    def save_anomaly(self, anomaly: Anomaly, status: str = "open") -> Anomaly | None:
        """Store a newly found anomaly; None when it was already known (it has had its alert)."""
        causes = json.dumps([{"resource_id": c.resource_id, "name": c.name, "usage_type": c.usage_type,
                              "actual": str(c.actual), "usual": str(c.usual), "owner": c.owner}
                             for c in anomaly.causes])
        try:
            with self._session() as s:
                row = AnomalyRow(team=anomaly.team, service=anomaly.service, day=anomaly.day, actual=anomaly.actual,
                                 baseline=anomaly.baseline, causes=causes, status=status,
                                 created_at=now())
                s.add(row)
                s.flush()
                return _anomaly(row)
        except IntegrityError:
            return None

    def set_anomaly_message(self, anomaly_id: int, channel: str, ts: str) -> None:
        with self._session() as s:
            s.execute(update(AnomalyRow).where(AnomalyRow.id == anomaly_id).values(channel=channel, message_ts=ts))

    def acknowledge(self, anomaly_id: int, user: str) -> tuple[Anomaly, str | None, str | None] | None:
        with self._session() as s:
            row = s.get(AnomalyRow, anomaly_id)
            if row is None:
                return None
            row.status, row.acknowledged_by = "acknowledged", user
            return _anomaly(row), row.channel, row.message_ts

    def anomaly(self, anomaly_id: int) -> Anomaly | None:
        with self._session() as s:
            row = s.get(AnomalyRow, anomaly_id)
            return _anomaly(row) if row else None

    def anomalies(self, since: date, team: str | None = None) -> list[Anomaly]:
        with self._session() as s:
            q = select(AnomalyRow).where(AnomalyRow.day >= since).order_by(AnomalyRow.day.desc(), AnomalyRow.id)
            if team is not None:
                q = q.where(AnomalyRow.team == team)
            return [_anomaly(r) for r in s.scalars(q)]

    # -- how far the checks have looked ------------------------------------------------------------------------
    def checked_through(self, name: str) -> date | None:
        with self._session() as s:
            row = s.get(InsightCheckRow, name)
            return row.through if row else None

    def set_checked_through(self, name: str, day: date) -> None:
        """Upsert; never moves back (a slower replica finishing late does not undo a later check)."""
        def move() -> bool:
            with self._session() as s:
                done = s.execute(update(InsightCheckRow).where(InsightCheckRow.name == name,
                                                               InsightCheckRow.through < day)
                                 .values(through=day, checked_at=now()))
                return bool(done.rowcount)  # type: ignore[attr-defined]

        if move():
            return
        try:
            with self._session() as s:
                if s.get(InsightCheckRow, name) is None:
                    s.add(InsightCheckRow(name=name, through=day, checked_at=now()))
        except IntegrityError:
            move()
