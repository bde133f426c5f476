"""Alembic environment: the connection is handed over by bot.adapters.state.database.upgrade."""

from __future__ import annotations

from alembic import context

from bot.adapters.state.models import Base

connection = context.config.attributes.get("connection")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
