"""Off-hours schedules: each heads-up, stop, start and skip once (a unique key), and what became of each resource
on each night (so the morning start brings back exactly what the schedule stopped).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedule_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("schedule", sa.String(64), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("day", sa.String(16), nullable=False),
        sa.Column("team", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(64)),
        sa.Column("message_ts", sa.String(32)),
        sa.UniqueConstraint("schedule", "event", "day", "team", name="uq_schedule_event"),
    )
    op.create_table(
        "schedule_nights",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("schedule", sa.String(64), nullable=False),
        sa.Column("night", sa.Date, nullable=False),
        sa.Column("resource_key", sa.String(400), nullable=False),
        sa.Column("team", sa.String(64)),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("by_user", sa.String(64)),
        sa.Column("request_id", sa.Integer),
        sa.Column("stopped_at", sa.DateTime(timezone=True)),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("hourly_cost", sa.Numeric(18, 6)),
        sa.Column("cost_source", sa.String(16)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("schedule", "night", "resource_key", name="uq_schedule_night"),
    )
    op.create_index("ix_schedule_nights_state", "schedule_nights", ["schedule", "state"])


def downgrade() -> None:
    op.drop_index("ix_schedule_nights_state", "schedule_nights")
    op.drop_table("schedule_nights")
    op.drop_table("schedule_events")
