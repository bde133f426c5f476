"""Approval requests for plans priced by `costbot estimate`, one per plan and team.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plan_approvals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("plan_hash", sa.String(64), nullable=False),
        sa.Column("team", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(128), nullable=False),
        sa.Column("title", sa.String(300), nullable=False, server_default=""),
        sa.Column("monthly_delta", sa.Numeric(18, 2), nullable=False),
        sa.Column("one_off", sa.Numeric(18, 2), nullable=False),
        sa.Column("headroom_after", sa.Numeric(18, 2)),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("reasons", sa.Text, nullable=False, server_default="[]"),
        sa.Column("decided_by", sa.String(64)),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(64)),
        sa.Column("message_ts", sa.String(32)),
        sa.UniqueConstraint("plan_hash", "team", name="uq_plan_approval"),
    )


def downgrade() -> None:
    op.drop_table("plan_approvals")
