"""Digest subscriptions: which scope goes to which channel, when. Cadence words become a cron expression."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.domain.errors import QueryError

CADENCES = ("daily", "weekly", "cron")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_TIME = "09:00"


@dataclass(frozen=True)
class Subscription:
    channel: str
    scope: str  # `/cost` scope words ("team-ml", "project:fraud"); "" is the whole organization
    cadence: str  # daily | weekly | cron
    cron: str  # minute hour day month weekday, in `timezone`
    timezone: str
    origin: str = "slack"  # config | slack
    created_by: str | None = None
    id: int | None = None

    def describe(self) -> str:
        return f"{self.scope or 'all teams'} → <#{self.channel}> {self.cadence} ({self.cron}, {self.timezone})"


def cadence_to_cron(words: list[str]) -> tuple[str, str]:
    """`daily [HH:MM]`, `weekly [DAY] [HH:MM]`, `cron M H D M W` -> (cadence, cron). Raises QueryError."""
    if not words:
        raise QueryError("say when: daily [HH:MM], weekly [DAY] [HH:MM] or cron M H DOM MON DOW",
                         word="digest")
    kind = words[0].lower()
    rest = [w.lower() for w in words[1:]]
    if kind == "cron":
        if len(rest) != 5:
            raise QueryError("cron needs five fields, e.g. `cron 0 9 * * MON-FRI`", word="cron")
        return "cron", " ".join(words[1:])
    if kind not in ("daily", "weekly"):
        raise QueryError(f"unknown cadence '{words[0]}': use daily, weekly or cron", word=words[0],
                         suggestion="daily")
    day = "mon"
    time_text = DEFAULT_TIME
    for w in rest:
        if _TIME.match(w):
            time_text = w
        elif kind == "weekly" and w[:3] in _DAYS:
            day = w[:3]
        else:
            raise QueryError(f"'{w}' is not a time (HH:MM){' or a weekday' if kind == 'weekly' else ''}", word=w)
    m = _TIME.match(time_text)
    assert m is not None
    hour, minute = int(m.group(1)), int(m.group(2))
    if kind == "daily":
        return "daily", f"{minute} {hour} * * *"
    return "weekly", f"{minute} {hour} * * {day}"
