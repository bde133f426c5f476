"""The demo provider's resources as costbot left them (SQLAlchemy): one row per resource it changed, so a Stop
in Slack is still a Stop in the terminal, after a restart and in every replica."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from bot.adapters.state.base import SqlRepository, now
from bot.adapters.state.models import DemoResourceRow


@dataclass(frozen=True)
class DemoState:
    """What can change about a demo resource."""

    state: str
    type: str
    count: int = 1
    tags: dict[str, str] = field(default_factory=dict)


class SqlDemoFleetStore(SqlRepository):
    def states(self, provider: str) -> dict[str, DemoState]:
        """Resource id -> its state, for the resources costbot changed."""
        with self._session() as s:
            rows = s.scalars(select(DemoResourceRow).where(DemoResourceRow.provider == provider))
            return {r.resource_id: DemoState(r.state, r.type, r.count, json.loads(r.tags or "{}")) for r in rows}

    def save(self, provider: str, resource_id: str, state: DemoState) -> None:
        """An upsert: update, else insert, else (a concurrent insert won) update again; the last write wins."""
        values = {"state": state.state, "type": state.type, "count": state.count,
                  "tags": json.dumps(state.tags, sort_keys=True), "updated_at": now()}

        def overwrite() -> bool:
            with self._session() as s:
                done = s.execute(update(DemoResourceRow).where(DemoResourceRow.provider == provider,
                                                               DemoResourceRow.resource_id == resource_id)
                                 .values(**values))
                return bool(done.rowcount)  # type: ignore[attr-defined]

        if overwrite():
            return
        try:
            with self._session() as s:
                s.add(DemoResourceRow(provider=provider, resource_id=resource_id, **values))
        except IntegrityError:
            overwrite()

    def reset(self, provider: str) -> int:
        """Every resource back to how the demo organization describes it."""
        with self._session() as s:
            done = s.execute(delete(DemoResourceRow).where(DemoResourceRow.provider == provider))
            return int(done.rowcount)  # type: ignore[attr-defined]
