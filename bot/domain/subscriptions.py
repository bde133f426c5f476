"""Digest subscriptions: which scope goes to which channel, when. Cadence words become a cron expression.

A digest runs at most hourly: a cron's minute field must name one minute, so it fires at most once an hour."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from bot.domain.errors import QueryError

CADENCES = ("daily", "weekly", "cron")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ONE_MINUTE = re.compile(r"[0-5]?[0-9]")
DEFAULT_TIME = "09:00"
MAX_CRON = 100  # the state database holds this much


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
    created_at: datetime | None = None  # scheduled times before this never count as missed

    def describe(self) -> str:
        return f"{self.scope or 'all teams'} → <#{self.channel}> {self.cadence} ({self.cron}, {self.timezone})"


def more_than_hourly(cron: str) -> str | None:
    """Why a 5-field cron fires more often than hourly (`*`, `*/5`, `0,30`, `0-59` as its minute), or None."""
    minute = cron.split()[0] if cron.split() else ""
    if _ONE_MINUTE.fullmatch(minute):
        return None
    return f"a digest runs at most hourly, so the cron's minute field must be one minute such as 0, not '{minute}'"


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
        cron = " ".join(words[1:])
        if len(cron) > MAX_CRON:
            raise QueryError(f"a cron expression is at most {MAX_CRON} characters", word=cron)
        problem = more_than_hourly(cron)
        if problem is not None:
            raise QueryError(problem + " (e.g. `cron 0 * * * *` for every hour)", word=words[1])
        return "cron", cron
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
