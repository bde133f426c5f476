"""Digest subscriptions and runs, and the scheduler's lease, on SQLAlchemy: one session per call, guards as
conditional writes so replicas agree."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from bot.adapters.state.base import SqlRepository, aware, now
from bot.adapters.state.models import DigestRunRow, LeaseRow, SubscriptionRow
from bot.domain.subscriptions import Subscription


def _to_domain(row: SubscriptionRow) -> Subscription:
    return Subscription(channel=row.channel, scope=row.scope, cadence=row.cadence, cron=row.cron,
                        timezone=row.timezone, origin=row.origin, created_by=row.created_by, id=row.id,
                        created_at=aware(row.created_at))


class SqlSubscriptionStore(SqlRepository):

    # -- subscriptions ---------------------------------------------------------------------------------
    def upsert_subscription(self, sub: Subscription) -> Subscription:
        with self._session() as s:
            row = s.scalar(select(SubscriptionRow).where(SubscriptionRow.channel == sub.channel,
                                                         SubscriptionRow.scope == sub.scope))
            if row is None:
                row = SubscriptionRow(channel=sub.channel, scope=sub.scope, created_at=sub.created_at or now(),
                                      created_by=sub.created_by, cadence=sub.cadence, cron=sub.cron,
                                      timezone=sub.timezone, origin=sub.origin)
                s.add(row)
            else:
                row.cadence, row.cron, row.timezone, row.origin = sub.cadence, sub.cron, sub.timezone, sub.origin
                row.created_by = sub.created_by or row.created_by
            s.flush()
            return _to_domain(row)

    def remove_subscription(self, channel: str, scope: str) -> Subscription | None:
        with self._session() as s:
            row = s.scalar(select(SubscriptionRow).where(SubscriptionRow.channel == channel,
                                                         SubscriptionRow.scope == scope))
            if row is None:
                return None
            found = _to_domain(row)
            s.delete(row)
            return found

    def subscriptions(self, channel: str | None = None) -> list[Subscription]:
        with self._session() as s:
            query = select(SubscriptionRow).order_by(SubscriptionRow.id)
            if channel is not None:
                query = query.where(SubscriptionRow.channel == channel)
            return [_to_domain(r) for r in s.scalars(query)]

    def subscription(self, subscription_id: int) -> Subscription | None:
        with self._session() as s:
            row = s.get(SubscriptionRow, subscription_id)
            return _to_domain(row) if row else None

    def remove_config_subscriptions_except(self, keep: set[tuple[str, str]]) -> int:
        """Config-owned subscriptions that the config no longer lists are removed."""
        with self._session() as s:
            rows = list(s.scalars(select(SubscriptionRow).where(SubscriptionRow.origin == "config")))
            gone = [r for r in rows if (r.channel, r.scope) not in keep]
            for r in gone:
                s.delete(r)
            return len(gone)

    # -- digest runs: post once ------------------------------------------------------------------------
    def claim_run(self, subscription_id: int, run_key: str) -> bool:
        """True for the one caller that may post this digest now: a new run, or a failed one retried."""
        try:
            with self._session() as s:
                s.add(DigestRunRow(subscription_id=subscription_id, run_key=run_key, status="running",
                                   attempts=1, updated_at=now()))
            return True
        except IntegrityError:
            pass
        with self._session() as s:
            result = s.execute(
                update(DigestRunRow)
                .where(DigestRunRow.subscription_id == subscription_id, DigestRunRow.run_key == run_key,
                       DigestRunRow.status == "failed")
                .values(status="running", attempts=DigestRunRow.attempts + 1, updated_at=now())
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def finish_run(self, subscription_id: int, run_key: str, ok: bool, error: str | None = None) -> int:
        """Record the outcome; returns the attempts made so far."""
        with self._session() as s:
            row = s.scalar(select(DigestRunRow).where(DigestRunRow.subscription_id == subscription_id,
                                                      DigestRunRow.run_key == run_key))
            if row is None:
                return 0
            row.status = "posted" if ok else "failed"
            row.error = None if ok else (error or "")[:2000]
            row.updated_at = now()
            return row.attempts

    def failed_runs(self, limit: int = 5) -> list[tuple[int, str, str, datetime]]:
        """The latest failed digest runs: (subscription id, run key, error, when), newest first."""
        with self._session() as s:
            rows = s.scalars(select(DigestRunRow).where(DigestRunRow.status == "failed")
                             .order_by(DigestRunRow.updated_at.desc()).limit(limit))
            return [(r.subscription_id, r.run_key, r.error or "", aware(r.updated_at)) for r in rows]

    def run_status(self, subscription_id: int, run_key: str) -> tuple[str, int] | None:
        with self._session() as s:
            row = s.scalar(select(DigestRunRow).where(DigestRunRow.subscription_id == subscription_id,
                                                      DigestRunRow.run_key == run_key))
            return (row.status, row.attempts) if row else None


class SqlLeaseStore(SqlRepository):
    """Named leases: one active scheduler."""

    def acquire_lease(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Take or renew the lease; False while another holder's lease is still valid."""
        current = now()
        with self._session() as s:
            result = s.execute(
                update(LeaseRow)
                .where(LeaseRow.name == name, (LeaseRow.holder == holder) | (LeaseRow.expires_at < current))
                .values(holder=holder, expires_at=current + ttl)
            )
            if result.rowcount:  # type: ignore[attr-defined]
                return True
        try:
            with self._session() as s:
                s.add(LeaseRow(name=name, holder=holder, expires_at=current + ttl))
            return True
        except IntegrityError:
            return False

    def release_lease(self, name: str, holder: str) -> None:
        with self._session() as s:
            s.execute(delete(LeaseRow).where(LeaseRow.name == name, LeaseRow.holder == holder))

    def lease_holder(self, name: str) -> tuple[str, datetime] | None:
        with self._session() as s:
            row = s.get(LeaseRow, name)
            return (row.holder, aware(row.expires_at)) if row else None
