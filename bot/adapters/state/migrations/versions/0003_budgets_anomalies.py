"""Budgets set from Slack, budget alerts sent, anomalies found.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "budgets",
        sa.Column("scope", sa.String(500), primary_key=True),
        sa.Column("monthly", sa.Numeric(18, 2), nullable=False),
        sa.Column("set_by", sa.String(64), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "budget_alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("scope", sa.String(500), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("threshold", sa.String(32), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("scope", "month", "threshold", name="uq_budget_alert"),
    )
    op.create_table(
        "anomalies",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("team", sa.String(64), nullable=False),
        sa.Column("service", sa.String(256), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("actual", sa.Numeric(18, 6), nullable=False),
        sa.Column("baseline", sa.Numeric(18, 6), nullable=False),
        sa.Column("causes", sa.Text, nullable=False, server_default="[]"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("acknowledged_by", sa.String(64)),
        sa.Column("channel", sa.String(64)),
        sa.Column("message_ts", sa.String(32)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("team", "service", "day", name="uq_anomaly"),
    )


def downgrade() -> None:
    op.drop_table("anomalies")
    op.drop_table("budget_alerts")
    op.drop_table("budgets")
