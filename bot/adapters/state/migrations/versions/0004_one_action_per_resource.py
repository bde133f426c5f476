"""One open action per resource (a unique key the database enforces), clicks remembered so a replayed or
retried click is the same click, executors that hold a heartbeat while they act, why a recommendation
closed, and the cloud's own error detail kept out of what users see.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

OPEN = ("requested", "approved", "executing")


def upgrade() -> None:
    with op.batch_alter_table("action_requests") as batch:
        batch.add_column(sa.Column("open_key", sa.String(400)))
        batch.add_column(sa.Column("owner", sa.String(128)))
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True)))
    # requests opened before this revision: per resource, one keeps the resource — one being executed first,
    # else the newest; others still waiting for a decision expire (their buttons answer so), and ones left
    # executing stay for the reconciler, which settles them against live state
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT id, resource_key, status FROM action_requests WHERE status IN ('requested', 'approved', "
        "'executing') ORDER BY CASE status WHEN 'executing' THEN 0 ELSE 1 END, id DESC")).fetchall()
    holders: set[str] = set()
    for request_id, key, status in rows:
        if key not in holders:
            holders.add(key)
            bind.execute(sa.text("UPDATE action_requests SET open_key = :k WHERE id = :i"),
                         {"k": key, "i": request_id})
        elif status != "executing":
            bind.execute(sa.text("UPDATE action_requests SET status = 'expired' WHERE id = :i"), {"i": request_id})
    op.create_index("uq_action_open_per_resource", "action_requests", ["open_key"], unique=True)
    op.create_table(
        "action_clicks",
        sa.Column("click_key", sa.String(64), primary_key=True),
        sa.Column("request_id", sa.Integer),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("recommendations") as batch:
        batch.add_column(sa.Column("close_reason", sa.String(300)))
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("detail", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("detail")
    with op.batch_alter_table("recommendations") as batch:
        batch.drop_column("close_reason")
    op.drop_table("action_clicks")
    op.drop_index("uq_action_open_per_resource", table_name="action_requests")
    with op.batch_alter_table("action_requests") as batch:
        batch.drop_column("heartbeat_at")
        batch.drop_column("owner")
        batch.drop_column("open_key")
