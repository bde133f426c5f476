"""What every SQLAlchemy repository shares: a session per call, committed on success, rolled back on error."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker


class EngineSource(Protocol):
    @property
    def engine(self) -> Engine: ...


def now() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class SqlRepository:
    """A repository on an engine, or on a StateDatabase that migrates the schema at its first use (so a command
    that never touches app state never opens it)."""

    def __init__(self, engine: Engine | EngineSource) -> None:
        self._source = engine
        self._sessions: sessionmaker[Session] | None = None

    @property
    def engine(self) -> Engine:
        return self._source if isinstance(self._source, Engine) else self._source.engine

    @contextmanager
    def _session(self) -> Iterator[Session]:
        if self._sessions is None:
            self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        with self._sessions.begin() as session:
            yield session
