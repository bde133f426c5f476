"""Recommendations, action requests and the audit log.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recommendations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("resource_key", sa.String(400), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("team", sa.String(64)),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("target_type", sa.String(64)),
        sa.Column("hourly_price", sa.Numeric(18, 6)),
        sa.Column("monthly_savings", sa.Numeric(18, 2)),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("channel", sa.String(64)),
        sa.Column("message_ts", sa.String(32)),
    )
    op.create_index("ix_recommendations_open", "recommendations", ["status", "resource_key", "kind"])
    op.create_table(
        "action_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("resource_key", sa.String(400), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("params", sa.Text, nullable=False, server_default="{}"),
        sa.Column("team", sa.String(64)),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("approved_by", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("channel", sa.String(64)),
        sa.Column("message_ts", sa.String(32)),
        sa.Column("undo_of", sa.Integer),
    )
    op.create_index("ix_action_requests_status", "action_requests", ["status"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("resource_key", sa.String(400), nullable=False),
        sa.Column("before", sa.Text),
        sa.Column("after", sa.Text),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("request_id", sa.Integer),
        sa.Column("dry_run", sa.Boolean, nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_index("ix_action_requests_status", "action_requests")
    op.drop_table("action_requests")
    op.drop_index("ix_recommendations_open", "recommendations")
    op.drop_table("recommendations")
