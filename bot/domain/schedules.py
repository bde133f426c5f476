"""Off-hours schedules: when resources following a schedule are told, stopped and started again. Pure: a
schedule and a moment in, the events due out — in the schedule's own time zone (zoneinfo, so daylight saving
moves the UTC instant, never the local hour), skipping weekends (when they are off) and holidays."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

EventKind = Literal["heads-up", "stop", "start"]
HEADS_UP: EventKind = "heads-up"
STOP: EventKind = "stop"
START: EventKind = "start"
SCHEDULE_TAG = "costbot:schedule"  # on a resource: the schedule it follows (`none`: none, whatever its team's)
OPT_OUT = ("none", "off")
ACTOR_PREFIX = "schedule:"  # the audit's actor for what a schedule did: `schedule:office-hours`

# what became of a resource on one night (schedule, night, resource)
PLANNED = "planned"  # listed in the heads-up: it stops at the off time unless someone keeps it
KEPT = "kept"  # Keep running tonight
SKIPPED = "skipped"  # Skip this week
BUSY = "busy"  # above the idle rule at the off time: kept running and reported
STOPPING = "stopping"  # claimed by the process stopping it
STOPPED = "stopped"  # stopped by the schedule: what the morning start brings back
REFUSED = "refused"  # the stop was refused (protected now, env=prod, gone, another action under way)
FAILED = "failed"
DRY_RUN = "dry-run"  # costbot runs with dry_run: nothing was stopped, so nothing is started
STARTING = "starting"
STARTED = "started"
LEFT = "left"  # not started in the morning: someone started or stopped it since (never start what a person stopped)


@dataclass(frozen=True)
class OffHours:
    """A named schedule: resources run from `on` to `off` on working days, in `zone`."""

    name: str
    on: time
    off: time
    zone: str
    weekends_off: bool = True
    holidays: frozenset[date] = frozenset()
    heads_up: timedelta = timedelta(minutes=30)

    def working(self, day: date) -> bool:
        """A day the resources run: not a holiday, and not a weekend day when weekends are off."""
        return day not in self.holidays and not (self.weekends_off and day.weekday() >= 5)

    def at(self, day: date, clock: time) -> datetime:
        """The UTC instant of a local time on a day. A time that does not exist that day (the hour skipped when
        clocks go forward) comes an hour later; one that happens twice (clocks go back) is its first."""
        local = datetime.combine(day, clock, tzinfo=ZoneInfo(self.zone))
        return local.astimezone(UTC)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(ZoneInfo(self.zone))


@dataclass(frozen=True)
class Event:
    """One heads-up, stop or start of a schedule. `day` is the local day it belongs to: a heads-up and its stop
    share the night's day (the day whose evening the resources stop)."""

    schedule: str
    kind: EventKind
    day: date
    at: datetime  # UTC

    @property
    def key(self) -> str:
        return f"{self.kind}@{self.day.isoformat()}"


def events(hours: OffHours, start: datetime, end: datetime) -> list[Event]:
    """Every event with `start < at <= end`, in time order."""
    first = hours.local(start).date() - timedelta(days=1)
    last = hours.local(end).date() + timedelta(days=1)
    out = []
    day = first
    while day <= last:
        if hours.working(day):
            stop_at = hours.at(day, hours.off)
            out += [Event(hours.name, HEADS_UP, day, stop_at - hours.heads_up), Event(hours.name, STOP, day, stop_at),
                    Event(hours.name, START, day, hours.at(day, hours.on))]
        day += timedelta(days=1)
    return sorted((e for e in out if start < e.at <= end), key=lambda e: (e.at, e.kind))


def due(hours: OffHours, now: datetime, grace: timedelta) -> list[Event]:
    """What should happen now: events of the last `grace` (a scheduler that was down catches up that far), but
    never a heads-up once its stop time has come."""
    out = []
    for event in events(hours, now - grace, now):
        if event.kind == HEADS_UP and hours.at(event.day, hours.off) <= now:
            continue
        out.append(event)
    return out


def within_hours(hours: OffHours, moment: datetime) -> bool:
    """Whether resources should be running at `moment`: a working day, between `on` and `off`."""
    local = hours.local(moment)
    return hours.working(local.date()) and hours.at(local.date(), hours.on) <= moment < hours.at(local.date(),
                                                                                                  hours.off)


def next_event(hours: OffHours, now: datetime, kind: EventKind, horizon_days: int = 400) -> Event | None:
    """The first event of `kind` after `now` (None when holidays and weekends leave no working day)."""
    start = now
    for _ in range(0, horizon_days, 31):
        found = [e for e in events(hours, start, start + timedelta(days=31)) if e.kind == kind]
        if found:
            return found[0]
        start += timedelta(days=31)
    return None


def week_of(day: date) -> str:
    """The ISO week a day is in (`2026-W49`): what *Skip this week* covers, Monday to Sunday."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def hours_between(start: datetime, end: datetime) -> Decimal:
    """Hours from `start` to `end` (never negative), to the second."""
    seconds = max(0, int((end - start).total_seconds()))
    return Decimal(seconds) / Decimal(3600)


SKIP = "skip"  # the event a team's *Skip this week* claims (its day is the ISO week)


@dataclass(frozen=True)
class ScheduleEvent:
    """A claimed event: who claimed it and the message it posted (a heads-up's buttons name it by id)."""

    id: int
    schedule: str
    event: str
    day: str
    team: str | None
    actor: str
    channel: str | None = None
    message_ts: str | None = None
    at: datetime | None = None  # when it was claimed (UTC, the database's clock)


@dataclass(frozen=True)
class NightResource:
    """What became of one resource on one night of a schedule (the app state's record)."""

    schedule: str
    night: date  # the day whose evening it was to stop
    resource_key: str
    team: str | None
    name: str
    state: str
    reason: str | None = None
    by: str | None = None  # who kept or skipped it
    request_id: int | None = None  # the stop's action request
    stopped_at: datetime | None = None
    started_at: datetime | None = None
    hourly_cost: Decimal | None = None  # what an hour of it costs (the bill's, else the price table's)
    cost_source: str | None = None  # "bill" or "price table"


@dataclass(frozen=True)
class Saved:
    """What a schedule saved over a period: hours off × each resource's hourly cost."""

    schedule: str
    hours: Decimal
    amount: Decimal
    resources: int
    by_resource: tuple[tuple[str, Decimal, Decimal], ...] = field(default_factory=tuple)  # (name, hours, amount)


def off_hours(record: NightResource, since: datetime, until: datetime) -> Decimal:
    """Hours a stopped resource stayed off within [since, until): from its stop to its start (or `until`)."""
    if record.stopped_at is None or record.state not in (STOPPED, STARTING, STARTED, LEFT):
        return Decimal(0)
    begin = max(record.stopped_at, since)
    end = min(record.started_at or until, until)
    return hours_between(begin, end) if end > begin else Decimal(0)


def saved(schedule: str, records: list[NightResource], since: datetime, until: datetime) -> Saved:
    """Hours off × hourly cost, per resource and in total, over [since, until)."""
    rows = []
    for r in records:
        hours = off_hours(r, since, until)
        if hours > 0:
            rows.append((r.name, hours, hours * (r.hourly_cost or Decimal(0))))
    return Saved(schedule, sum((h for _, h, _ in rows), Decimal(0)), sum((a for _, _, a in rows), Decimal(0)),
                 len({r.resource_key for r in records if off_hours(r, since, until) > 0}), tuple(rows))


@dataclass(frozen=True)
class HeadsUp:
    """The message a team gets before a stop: what will stop, and what people chose to keep."""

    schedule: str
    night: date
    team: str | None
    stop_at: datetime  # UTC
    zone: str
    rows: tuple[NightResource, ...]
    skipped_by: str | None = None  # who skipped the rest of the week
    event_id: int | None = None  # the claimed heads-up: what its buttons name
    start_at: datetime | None = None  # UTC: the next start (after a weekend or a holiday, days later)

    @property
    def stop_local(self) -> datetime:
        return self.stop_at.astimezone(ZoneInfo(self.zone))

    @property
    def start_local(self) -> datetime | None:
        return self.start_at.astimezone(ZoneInfo(self.zone)) if self.start_at is not None else None

    @property
    def planned(self) -> tuple[NightResource, ...]:
        return tuple(r for r in self.rows if r.state == PLANNED)


@dataclass(frozen=True)
class NightReport:
    """What a stop did for one team: stopped, and kept running (with why)."""

    schedule: str
    night: date
    team: str | None
    rows: tuple[NightResource, ...]
    dry_run: bool = False
    start_at: datetime | None = None  # UTC: the start that brings them back (a Friday's: Monday's)
    zone: str = "UTC"

    @property
    def start_local(self) -> datetime | None:
        return self.start_at.astimezone(ZoneInfo(self.zone)) if self.start_at is not None else None

    @property
    def stopped(self) -> tuple[NightResource, ...]:
        return tuple(r for r in self.rows if r.state in (STOPPED, DRY_RUN))

    @property
    def running(self) -> tuple[NightResource, ...]:
        return tuple(r for r in self.rows if r.state not in (STOPPED, DRY_RUN))


@dataclass(frozen=True)
class PlanRow:
    """A resource following a schedule, as `costbot schedules` shows it."""

    schedule: str
    team: str | None
    name: str
    resource_key: str
    state: str  # the provider's word
    follows: str  # "tag" (its own costbot:schedule) or "team"
    note: str | None = None  # why the schedule will not stop it (protected, env=prod, not running), or None


@dataclass(frozen=True)
class SchedulePlan:
    name: str
    zone: str
    on: str
    off: str
    weekends: str
    holidays: tuple[date, ...]
    next_stop: datetime | None
    next_start: datetime | None
    rows: tuple[PlanRow, ...]
    stopped: tuple[NightResource, ...]  # stopped by the schedule now: the next start brings them back
    saved: Saved

    @property
    def would_stop(self) -> tuple[PlanRow, ...]:
        return tuple(r for r in self.rows if r.note is None)


@dataclass(frozen=True)
class Step:
    """One thing a schedule run did or would do."""

    schedule: str
    event: str  # heads-up | stop | start
    day: date
    team: str | None
    what: str  # the resource's name, or the channel for a message
    outcome: str
