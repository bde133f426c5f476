"""How far each periodic check has looked (the anomaly alerts catch up from there after downtime or late data).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "insight_checks",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("through", sa.Date, nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("insight_checks")
