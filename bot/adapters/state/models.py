"""App state (SQLAlchemy 2.0 models): subscriptions, digest runs, the scheduler lease, recommendations,
action requests, the audit log, and the demo provider's resources.

The schema is owned by the Alembic migrations next to this file; these models must match them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """An instant, written and compared as UTC and read back as UTC whatever the database: SQLite keeps a
    datetime's wall clock and drops its zone, so an instant in another zone (a moment in a schedule's or the
    config's time zone) would otherwise come back hours off. The column is a plain timestamp with time zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class SubscriptionRow(Base):
    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(64), nullable=False)
    scope: Mapped[str] = mapped_column(String(500), nullable=False)  # `/cost` scope words, e.g. "team-ml"
    cadence: Mapped[str] = mapped_column(String(16), nullable=False)  # daily | weekly | cron
    cron: Mapped[str] = mapped_column(String(100), nullable=False)  # 5-field cron in `timezone`
    timezone: Mapped[str] = mapped_column(String(64), nullable=False)
    origin: Mapped[str] = mapped_column(String(16), nullable=False)  # config | slack
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (UniqueConstraint("channel", "scope", name="uq_subscription_channel_scope"),)


class DigestRunRow(Base):
    """One digest for one subscription and one scheduled time: the guard that posts it once."""

    __tablename__ = "digest_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscription_id: Mapped[int] = mapped_column(Integer, nullable=False)
    run_key: Mapped[str] = mapped_column(String(64), nullable=False)  # the scheduled time, ISO
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # running | posted | failed
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (UniqueConstraint("subscription_id", "run_key", name="uq_digest_run"),)


class LeaseRow(Base):
    """Who runs the scheduler: a row per lease name, held until `expires_at`."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class RecommendationRow(Base):
    __tablename__ = "recommendations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resource_key: Mapped[str] = mapped_column(String(400), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    team: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(256), nullable=False)
    resource_type: Mapped[str] = mapped_column(String(64), nullable=False)
    target_type: Mapped[str | None] = mapped_column(String(64))
    hourly_price: Mapped[Decimal | None] = mapped_column(Numeric(18, 6))
    monthly_savings: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    reason: Mapped[str] = mapped_column(String(500), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # open | closed
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    channel: Mapped[str | None] = mapped_column(String(64))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    close_reason: Mapped[str | None] = mapped_column(String(300))


class ActionRequestRow(Base):
    __tablename__ = "action_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resource_key: Mapped[str] = mapped_column(String(400), nullable=False)
    action: Mapped[str] = mapped_column(String(16), nullable=False)
    params: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    team: Mapped[str | None] = mapped_column(String(64))
    requested_by: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    approved_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    result: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str | None] = mapped_column(String(64))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    undo_of: Mapped[int | None] = mapped_column(Integer)
    # the resource key while the request is open (requested, approved, executing), NULL once it is final: a
    # unique index makes "one open action per resource" a guarantee of the database, not a check-then-insert
    open_key: Mapped[str | None] = mapped_column(String(400), unique=True)
    owner: Mapped[str | None] = mapped_column(String(128))  # the process executing it
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # renewed while executing


class ActionClickRow(Base):
    """A click (or its replay, or Slack's retry of it) seen once: which request it made or joined."""

    __tablename__ = "action_clicks"

    click_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class AuditRow(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    actor: Mapped[str] = mapped_column(String(64), nullable=False)
    action: Mapped[str] = mapped_column(String(16), nullable=False)
    resource_key: Mapped[str] = mapped_column(String(400), nullable=False)
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str] = mapped_column(String(16), nullable=False)
    error: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[int | None] = mapped_column(Integer)
    dry_run: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    detail: Mapped[str | None] = mapped_column(Text)  # the cloud's own error text: for operators, never shown


class BudgetRow(Base):
    __tablename__ = "budgets"

    scope: Mapped[str] = mapped_column(String(500), primary_key=True)
    monthly: Mapped[Decimal] = mapped_column(Numeric(18, 2), nullable=False)
    set_by: Mapped[str] = mapped_column(String(64), nullable=False)
    set_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class BudgetAlertRow(Base):
    __tablename__ = "budget_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(500), nullable=False)
    month: Mapped[str] = mapped_column(String(7), nullable=False)
    threshold: Mapped[str] = mapped_column(String(32), nullable=False)
    posted_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (UniqueConstraint("scope", "month", "threshold", name="uq_budget_alert"),)


class AnomalyRow(Base):
    __tablename__ = "anomalies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team: Mapped[str] = mapped_column(String(64), nullable=False)
    service: Mapped[str] = mapped_column(String(256), nullable=False)
    day: Mapped[date] = mapped_column(Date, nullable=False)
    actual: Mapped[Decimal] = mapped_column(Numeric(18, 6), nullable=False)
    baseline: Mapped[Decimal] = mapped_column(Numeric(18, 6), nullable=False)
    causes: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(64))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (UniqueConstraint("team", "service", "day", name="uq_anomaly"),)


class PlanApprovalRow(Base):
    """An approval request for one plan (by its hash) and one team ('' for lines no team owns)."""

    __tablename__ = "plan_approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    team: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # requested | approved | rejected
    requested_by: Mapped[str] = mapped_column(String(128), nullable=False)
    title: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    monthly_delta: Mapped[Decimal] = mapped_column(Numeric(18, 2), nullable=False)
    one_off: Mapped[Decimal] = mapped_column(Numeric(18, 2), nullable=False)
    headroom_after: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    reasons: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    channel: Mapped[str | None] = mapped_column(String(64))
    message_ts: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (UniqueConstraint("plan_hash", "team", name="uq_plan_approval"),)


class DemoResourceRow(Base):
    """The demo provider's resources as they are now: what a Stop, Start, Resize or tag changed. Resources with no
    row are as the demo organization describes them."""

    __tablename__ = "demo_resources"

    provider: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(400), primary_key=True)
    state: Mapped[str] = mapped_column(String(32), nullable=False)
    type: Mapped[str] = mapped_column(String(64), nullable=False)
    count: Mapped[int] = mapped_column(Integer, nullable=False)
    tags: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class InsightCheckRow(Base):
    """The last day a periodic check (the anomaly alerts) has looked at."""

    __tablename__ = "insight_checks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    through: Mapped[date] = mapped_column(Date, nullable=False)
    checked_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class ScheduleEventRow(Base):
    """One heads-up, stop or start of a schedule for one team and day (or a team's *Skip this week*, keyed by its
    ISO week): the guard that makes each happen once, and the message it posted."""

    __tablename__ = "schedule_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    schedule: Mapped[str] = mapped_column(String(64), nullable=False)
    event: Mapped[str] = mapped_column(String(16), nullable=False)  # heads-up | stop | start | skip
    day: Mapped[str] = mapped_column(String(16), nullable=False)  # the local day (ISO), or the ISO week for a skip
    team: Mapped[str] = mapped_column(String(64), nullable=False)  # "" for resources no team owns
    actor: Mapped[str] = mapped_column(String(64), nullable=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    channel: Mapped[str | None] = mapped_column(String(64))
    message_ts: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (UniqueConstraint("schedule", "event", "day", "team", name="uq_schedule_event"),)


class ScheduleNightRow(Base):
    """What became of one resource on one night of a schedule: planned, kept, busy, stopped, started…"""

    __tablename__ = "schedule_nights"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    schedule: Mapped[str] = mapped_column(String(64), nullable=False)
    night: Mapped[date] = mapped_column(Date, nullable=False)
    resource_key: Mapped[str] = mapped_column(String(400), nullable=False)
    team: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(256), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    by_user: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[int | None] = mapped_column(Integer)
    stopped_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    hourly_cost: Mapped[Decimal | None] = mapped_column(Numeric(18, 6))
    cost_source: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (UniqueConstraint("schedule", "night", "resource_key", name="uq_schedule_night"),
                      Index("ix_schedule_nights_state", "schedule", "state"))
