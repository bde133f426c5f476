"""Off-hours schedules: tell each team what will stop, stop it at the off time through the action path (exactly
once per resource, re-checked live, audited, dry_run honoured, protected and env=prod never), keep what people
chose to keep and what is busy, and start in the morning exactly what the schedule stopped.

Each heads-up, stop and start is claimed once per schedule, day and team in the schedule store (a unique key),
and each resource's record for the night moves on by conditional updates, so two schedulers racing, a scheduler
catching up and concurrent clicks all come to one outcome per resource and night.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from bot.config import CostbotConfig
from bot.domain.actions import ActionNotAllowed, ActionRequest
from bot.domain.errors import ConfigError, CostbotError
from bot.domain.recommendations import is_protected
from bot.domain.resources import Resource, ResourceRef
from bot.domain.schedules import (
    ACTOR_PREFIX,
    BUSY,
    DRY_RUN,
    FAILED,
    HEADS_UP,
    KEPT,
    LEFT,
    PLANNED,
    REFUSED,
    SCHEDULE_TAG,
    SKIP,
    SKIPPED,
    START,
    STARTED,
    STARTING,
    STOP,
    STOPPED,
    STOPPING,
    Event,
    HeadsUp,
    NightReport,
    NightResource,
    OffHours,
    PlanRow,
    Saved,
    ScheduleEvent,
    SchedulePlan,
    Step,
    due,
    next_event,
    saved,
    week_of,
    within_hours,
)
from bot.ports import ResourceProvider, ScheduleNotifier, ScheduleStore
from bot.services.actions import ActionService
from bot.services.resource_costs import ResourceCostService, billing_id
from bot.services.scans import domain_rules

log = logging.getLogger("costbot.schedules")

SCHEDULE_BASIS = "schedule"  # an action request's grounds: `schedule` with `NAME@DAY`
BUSY_HOURS = 2  # "busy at the off time": the idle rule's CPU / GPU maxima over the last two hourly points
DONE = "*"  # the team of an event's "all teams done" mark: later runs skip it without listing resources
UNPOSTED, RETRY = "heads-up-failed", "heads-up-retry"  # a heads-up Slack could not take; each attempt again
GRACE = timedelta(hours=2)  # a scheduler that was down catches up on events this recent
LOST_AFTER = timedelta(minutes=3)  # a heads-up claimed this long ago and still unposted: its claimer died
OUTSIDE_MARGIN = timedelta(minutes=2)  # the schedule's own stop is recorded this close to the provider's


def _now() -> datetime:
    return datetime.now(UTC)


def _clock(text: str) -> time:
    hour, minute = text.split(":")
    return time(int(hour), int(minute))


@dataclass(frozen=True)
class Chosen:
    """A heads-up after a click, and the resources this click changed (none: someone else was first)."""

    view: HeadsUp
    changed: tuple[str, ...]


@dataclass(frozen=True)
class Member:
    """A resource following a schedule, and why it does."""

    schedule: str
    resource: Resource
    team: str | None
    follows: str  # tag | team


class ScheduleService:
    def __init__(self, providers: Sequence[ResourceProvider], store: ScheduleStore, actions: ActionService,
                 config: CostbotConfig, notifier: ScheduleNotifier | None,
                 costs: ResourceCostService | None = None, clock: Callable[[], datetime] = _now,
                 grace: timedelta = GRACE) -> None:
        self.providers = {p.name: p for p in providers}
        self.store = store
        self.actions = actions  # stop and start go through the action path; clicks are audited there
        self.config = config
        self.notifier = notifier
        self.costs = costs  # each resource's own billing lines: what an hour of it costs
        self.clock = clock
        self.grace = grace

    def _check_kinds(self) -> None:
        """A team's `schedule.kinds` must name kinds a configured provider can stop and start on a schedule: a
        typo (or `endpoint`) would otherwise leave the team's resources running every night, silently."""
        known = frozenset().union(*(p.kinds_with("schedule") for p in self.providers.values()))
        for team, cfg in self.config.teams.items():
            chosen = cfg.schedule
            unknown = [k for k in (chosen.kinds or []) if k not in known] if chosen is not None else []
            if unknown:
                can = ", ".join(sorted(known)) or "none: no provider that can is configured"
                raise ConfigError(f"teams.{team}.schedule.kinds: {', '.join(unknown)} cannot be stopped and "
                                  f"started on a schedule (kinds that can: {can})")

    # -- what follows which schedule ------------------------------------------------------------------------
    def hours(self, name: str) -> OffHours:
        cfg = self.config.schedules[name]
        return OffHours(name, _clock(cfg.on), _clock(cfg.off), self.config.schedule_zone(name),
                        weekends_off=cfg.weekends == "off", holidays=frozenset(cfg.holidays),
                        heads_up=timedelta(minutes=cfg.heads_up_minutes))

    def listed(self) -> list[Resource]:
        """Every resource a schedule can stop and start, as it is now (one listing per provider): what `members`,
        `mistagged` and `plan` read when given it, so one command lists once."""
        return [r for p in self.providers.values() for r in p.list_resources("schedule")]

    def members(self, listed: Sequence[Resource] | None = None) -> dict[str, list[Member]]:
        """Schedule name -> the resources following it (their own tag first, else their team's selector)."""
        self._check_kinds()
        out: dict[str, list[Member]] = {name: [] for name in self.config.schedules}
        for res in self.listed() if listed is None else listed:
            if not res.supports("schedule"):
                continue
            name = self.config.schedule_for(res.tags, res.ref.kind)
            if name is None:
                continue
            own = any(k.lower() == SCHEDULE_TAG for k in res.tags)
            out[name].append(Member(name, res, self.config.owner_team(res.tags), "tag" if own else "team"))
        for found in out.values():
            found.sort(key=lambda m: (m.team or "", m.resource.name, m.resource.ref.key))
        return out

    def mistagged(self, listed: Sequence[Resource] | None = None) -> list[tuple[str, str, str]]:
        """(resource name, key, its `costbot:schedule` value) of resources whose tag names no configured schedule
        (they follow none): what `costbot schedules` warns about."""
        out = []
        for res in self.listed() if listed is None else listed:
            own = next((v.strip() for k, v in res.tags.items() if k.lower() == SCHEDULE_TAG), None)
            if own is not None and own.lower() not in ("none", "off") and \
                    self.config.schedule_for(res.tags, res.ref.kind) is None:
                out.append((res.name, res.ref.key, own))
        return sorted(out)

    def _excluded(self, member: Member) -> str | None:
        """Why the schedule will not stop this resource tonight, or None."""
        res = member.resource
        rules = domain_rules(self.config.rules_for(member.team))
        if is_protected(res, rules):
            return "protected: never touched"
        if self.config.is_prod(res.tags):
            return "env=prod: a schedule never stops it"
        if not res.running:
            return f"{res.state} now"
        return None

    # -- the plan -----------------------------------------------------------------------------------------
    def plan(self, now: datetime | None = None, listed: Sequence[Resource] | None = None) -> list[SchedulePlan]:
        """Per schedule: its resources, what the next stop would stop, what the next start would bring back, when,
        and what it saved over the last 7 days."""
        now = now or self.clock()
        members = self.members(listed)
        out = []
        for name, cfg in self.config.schedules.items():
            hours = self.hours(name)
            rows = tuple(PlanRow(name, m.team, m.resource.name, m.resource.ref.key, m.resource.state, m.follows,
                                 self._excluded(m)) for m in members[name])
            stop, start = next_event(hours, now, STOP), next_event(hours, now, START)
            out.append(SchedulePlan(
                name, hours.zone, cfg.on, cfg.off, cfg.weekends, tuple(sorted(cfg.holidays)),
                stop.at if stop else None, start.at if start else None, rows,
                tuple(self.store.nights(name, states=[STOPPED])), self.saved(name, now - timedelta(days=7), now)))
        return out

    def saved(self, name: str, since: datetime, until: datetime) -> Saved:
        """Hours the schedule kept resources off in [since, until) × each one's hourly cost."""
        return saved(name, [r for r in self.store.stopped_between(since, until) if r.schedule == name], since, until)

    def saved_all(self, since: datetime, until: datetime, team: str | None = None) -> Decimal:
        """Everything the schedules saved in [since, until) (one team's resources, or all)."""
        records = [r for r in self.store.stopped_between(since, until) if team is None or r.team == team]
        return sum((saved(n, [r for r in records if r.schedule == n], since, until).amount
                    for n in self.config.schedules), Decimal(0))

    # -- a run --------------------------------------------------------------------------------------------
    def run(self, at: datetime | None = None, apply: bool = True) -> list[Step]:
        """Everything due at `at` (now): heads-ups, stops and starts. `apply=False` changes nothing and claims
        nothing: it says what would be posted, stopped and started."""
        at = at or self.clock()
        pending: list[Event] = []
        late: list[Event] = []
        for name in self.config.schedules:
            hours = self.hours(name)
            found = due(hours, at, self.grace)
            for event in found:
                if apply and self.store.event(name, event.kind, event.day.isoformat(), DONE) is not None:
                    continue  # done already: no need to list resources again
                pending.append(event)
            if not any(e.kind == START for e in found) and within_hours(hours, at):
                today = hours.local(at).date()
                if any(r.night < today for r in self.store.nights(name, states=[STOPPED])):
                    late.append(Event(name, START, today, hours.at(today, hours.on)))
        steps: list[Step] = []
        for event in late:  # the morning start was missed (no scheduler then): start now, whatever the grace
            steps += self._start(event, apply, at, claim=False)
        if not pending:
            return steps
        members = self.members() if any(e.kind != START for e in pending) else {}
        for event in pending:
            settled = True
            if event.kind == HEADS_UP:
                done, settled = self._heads_up(event, members[event.schedule], apply, at)
                steps += done
            elif event.kind == STOP:
                steps += self._stop(event, members[event.schedule], apply, at)
            else:
                steps += self._start(event, apply, at)
            if apply and settled:
                self.store.claim_event(event.schedule, event.kind, event.day.isoformat(), DONE, "costbot")
        return steps

    @staticmethod
    def _by_team(members: Sequence[Member]) -> dict[str | None, list[Member]]:
        teams: dict[str | None, list[Member]] = defaultdict(list)
        for m in members:
            teams[m.team].append(m)
        return teams

    def _night(self, member: Member, day: date, state: str = PLANNED) -> NightResource:
        return NightResource(member.schedule, day, member.resource.ref.key, member.team, member.resource.name, state)

    def _team_rows(self, schedule: str, day: date, team: str | None) -> list[NightResource]:
        return [r for r in self.store.nights(schedule, day) if r.team == team]

    def _skipped_by(self, schedule: str, day: date, team: str | None) -> str | None:
        skip = self.store.event(schedule, SKIP, week_of(day), team)
        return skip.actor if skip is not None else None

    def _heads_up(self, event: Event, members: Sequence[Member], apply: bool,
                  at: datetime) -> tuple[list[Step], bool]:
        """One heads-up per team. Returns the steps, and whether every team's heads-up is settled (posted, or with
        nowhere to post): one Slack could not take is posted again by a later run before the stop, at most once
        per run's minute whatever the number of schedulers."""
        steps = []
        settled = True
        day = event.day
        for team, found in self._by_team(members).items():
            stopping = [m for m in found if self._excluded(m) is None]
            channel = self.config.channel_for(team)
            skipped = self._skipped_by(event.schedule, day, team)
            if not stopping or skipped is not None:
                continue
            names = ", ".join(m.resource.name for m in stopping[:10]) + (
                f" and {len(stopping) - 10} more" if len(stopping) > 10 else "")
            where = channel or "(no channel)"
            if not apply:
                steps.append(Step(event.schedule, HEADS_UP, day, team, where,
                                  f"would post: {len(stopping)} to stop ({names})"))
                continue
            if self.store.claim_event(event.schedule, HEADS_UP, day.isoformat(), team, "costbot"):
                self.store.add_nights([self._night(m, day) for m in stopping])
                again = False
            else:
                # posted again only once a post has failed, or its claimer died before posting (never while the
                # first is in flight), one run a minute; until it is posted, later runs keep looking
                claimed = self.store.event(event.schedule, HEADS_UP, day.isoformat(), team)
                if claimed is None or claimed.message_ts or not channel or self.notifier is None:
                    continue
                failed = self.store.event(event.schedule, UNPOSTED, day.isoformat(), team) is not None or (
                    claimed.at is not None and datetime.now(UTC) - claimed.at > LOST_AFTER)
                if not failed or not self.store.claim_event(event.schedule, RETRY, f"{day.isoformat()}@{at:%H%M}",
                                                            team, "costbot"):
                    settled = False
                    continue
                self.store.add_nights([self._night(m, day) for m in stopping])  # a claimer that died before them
                again = True
            if not channel or self.notifier is None:
                why = "Slack is not connected" if channel else "no channel (teams.*.channel or owners_channel)"
                steps.append(Step(event.schedule, HEADS_UP, day, team, where, f"not posted: {why}"))
                continue
            outcome = self._post_heads_up(event, team, channel)
            settled = settled and outcome is None
            posted = f"posted{' again' if again else ''}: {len(stopping)} to stop ({names})"
            steps.append(Step(event.schedule, HEADS_UP, day, team, where, posted if outcome is None else outcome))
        return steps, settled

    def _post_heads_up(self, event: Event, team: str | None, channel: str) -> str | None:
        """Post the claimed heads-up; None when posted, else why not (kept for a later run to post)."""
        assert self.notifier is not None
        day = event.day.isoformat()
        claimed = self.store.event(event.schedule, HEADS_UP, day, team)
        if claimed is None:
            return "not posted (its record is gone)"
        try:
            ch, ts = self.notifier.post_heads_up(channel, self._heads_up_view(claimed))
        except CostbotError as exc:
            log.warning("could not post the %s heads-up for %s (posted again later): %s", event.schedule, team, exc)
            self.store.claim_event(event.schedule, UNPOSTED, day, team, "costbot")
            return f"not posted ({exc}); posted again at the next run"
        self.store.set_event_message(event.schedule, HEADS_UP, day, team, ch, ts)
        return None

    def _heads_up_view(self, claimed: ScheduleEvent) -> HeadsUp:
        day = date.fromisoformat(claimed.day)
        hours = self.hours(claimed.schedule)
        stop_at = hours.at(day, hours.off)
        start = next_event(hours, stop_at, START)
        return HeadsUp(claimed.schedule, day, claimed.team, stop_at, hours.zone,
                       tuple(self._team_rows(claimed.schedule, day, claimed.team)),
                       self._skipped_by(claimed.schedule, day, claimed.team), claimed.id,
                       start.at if start is not None else None)

    def _busy(self, members: Sequence[Member], at: datetime) -> dict[str, str]:
        """Resources above the idle rule's CPU or GPU threshold at the off time (its own CloudWatch metrics, in one
        batch per provider): resource key -> what was measured."""
        out: dict[str, str] = {}
        by_provider: dict[str, list[Member]] = defaultdict(list)
        for m in members:
            by_provider[m.resource.ref.provider].append(m)
        for name, found in by_provider.items():
            # the detail pass only for accelerated types: it carries their GPU metric (CPU came in the first pass)
            usage = self.providers[name].utilization([m.resource for m in found], hours=BUSY_HOURS,
                                                     recent_hours=BUSY_HOURS, end=at,
                                                     detail=lambda r, u: r.gpu_expected)
            for m in found:
                u = usage.get(m.resource.ref.key)
                if u is None:
                    continue
                rules = self.config.rules_for(m.team)
                shown = []
                if u.gpu_max is not None and u.gpu_max >= rules.idle_gpu_percent:
                    shown.append(f"GPU {u.gpu_max:.0f}%")
                if u.cpu_max is not None and u.cpu_max >= rules.idle_cpu_percent:
                    shown.append(f"CPU {u.cpu_max:.0f}%")
                if shown:
                    out[m.resource.ref.key] = (f"busy at the off time ({', '.join(shown)}; idle is below GPU "
                                               f"{rules.idle_gpu_percent:g}% and CPU {rules.idle_cpu_percent:g}%)")
        return out

    def _hourly(self, members: Sequence[Member]) -> dict[str, tuple[Decimal, str]]:
        """Resource key -> (what an hour of it costs, where that comes from): the bill, else the price table."""
        billed = self.costs.hourly({m.resource.ref.id for m in members}) if self.costs is not None else {}
        out = {}
        for m in members:
            rate = billed.get(billing_id(m.resource.ref.id))
            if rate is not None:
                out[m.resource.ref.key] = (rate, "bill")
            elif m.resource.hourly_price is not None:
                out[m.resource.ref.key] = (m.resource.hourly_price * m.resource.count, "price table")
        return out

    def _stop(self, event: Event, members: Sequence[Member], apply: bool, at: datetime) -> list[Step]:
        """Per team: claim the night's stop, settle what the heads-up listed, then — one CloudWatch batch and one
        billing query for every team together — keep the busy ones and stop the rest; report to each team."""
        day = event.day
        by_team = self._by_team(members)
        if not apply:
            return self._would_stop(event, by_team, at)
        for listed in self.store.nights(event.schedule, day):  # a team whose listed resources all went still
            by_team.setdefault(listed.team, [])                 # gets its report
        claimed: dict[str | None, str | None] = {}  # team -> who skipped its week
        planned: list[Member] = []
        for team, found in by_team.items():
            stopping = [m for m in found if self._excluded(m) is None]
            if not self.store.claim_event(event.schedule, STOP, day.isoformat(), team, "costbot"):
                continue
            claimed[team] = skipped = self._skipped_by(event.schedule, day, team)
            self.store.add_nights([self._night(m, day) for m in stopping])  # what the heads-up missed
            self._settle_unlisted(event, team, found, stopping, skipped)
            rows = {r.resource_key: r for r in self._team_rows(event.schedule, day, team)}
            planned += [m for m in stopping if (row := rows.get(m.resource.ref.key)) is not None
                        and row.state == PLANNED]
        busy = self._busy(planned, at) if planned else {}
        costs = self._hourly(planned) if planned else {}
        for m in planned:
            key = m.resource.ref.key
            if key in busy:
                self.store.move_night(event.schedule, day, key, [PLANNED], BUSY, reason=busy[key])
            elif self.store.move_night(event.schedule, day, key, [PLANNED], STOPPING):
                self._stop_one(m, event, at, costs.get(key))
        steps: list[Step] = []
        for team, skipped in claimed.items():
            rows_now = self._team_rows(event.schedule, day, team)
            steps += [Step(event.schedule, STOP, day, team, r.name, r.state + (f": {r.reason}" if r.reason else ""))
                      for r in rows_now]
            channel = self.config.channel_for(team)
            if channel and self.notifier is not None and rows_now and skipped is None:  # a skipped week: quiet
                hours = self.hours(event.schedule)
                start = next_event(hours, hours.at(day, hours.off), START)
                report = NightReport(event.schedule, day, team, tuple(rows_now), dry_run=self.config.dry_run,
                                     start_at=start.at if start is not None else None, zone=hours.zone)
                try:
                    self.notifier.post_night_report(channel, report)
                except CostbotError as exc:
                    log.warning("could not post the %s stop report for %s: %s", event.schedule, team, exc)
            heads_up = self.store.event(event.schedule, HEADS_UP, day.isoformat(), team)
            if heads_up is not None:
                self._refresh(heads_up)  # its buttons go: each row shows what became of it
        return steps

    def _settle_unlisted(self, event: Event, team: str | None, found: Sequence[Member], stopping: Sequence[Member],
                         skipped: str | None) -> None:
        """Before the stop: a skipped week keeps everything running; a resource the heads-up listed that is no
        longer to stop (a person stopped it, it became protected, it is gone) is left as it is."""
        day = event.day
        members = {m.resource.ref.key: m for m in found}
        stopping_keys = {m.resource.ref.key for m in stopping}
        for row in self._team_rows(event.schedule, day, team):
            if row.state != PLANNED:
                continue
            if skipped is not None:
                self.store.move_night(event.schedule, day, row.resource_key, [PLANNED], SKIPPED, by=skipped,
                                      reason=f"the week skipped by <@{skipped}>")
            elif row.resource_key not in stopping_keys:
                member = members.get(row.resource_key)
                if member is None:
                    why = "it no longer follows the schedule"
                elif not member.resource.running:
                    why = f"{member.resource.state} by someone else before the off time: the schedule leaves it"
                else:
                    why = self._excluded(member) or "not to stop"
                self.store.move_night(event.schedule, day, row.resource_key, [PLANNED], LEFT, reason=why)

    def _would_stop(self, event: Event, by_team: dict[str | None, list[Member]], at: datetime) -> list[Step]:
        """What the stop would do, changing nothing (the busy check reads CloudWatch, in one batch)."""
        day = event.day
        plans = []
        for team, found in by_team.items():
            stopping = [m for m in found if self._excluded(m) is None]
            rows = {r.resource_key: r for r in self._team_rows(event.schedule, day, team)}
            plans.append((team, stopping, rows, self._skipped_by(event.schedule, day, team)))
        candidates = [m for _, stopping, rows, skipped in plans if skipped is None for m in stopping
                      if rows.get(m.resource.ref.key) is None or rows[m.resource.ref.key].state == PLANNED]
        busy = self._busy(candidates, at) if candidates else {}
        steps = []
        for team, stopping, rows, skipped in plans:
            for m in stopping:
                key = m.resource.ref.key
                row = rows.get(key)
                if skipped is not None:
                    outcome = f"would keep running: the week skipped by <@{skipped}>"
                elif row is not None and row.state != PLANNED:
                    outcome = f"{row.state}" + (f" by <@{row.by}>" if row.by else "")
                elif key in busy:
                    outcome = f"would keep running: {busy[key]}"
                else:
                    outcome = f"would stop ({m.resource.state} now)"
                steps.append(Step(event.schedule, STOP, day, team, m.resource.name, outcome))
        return steps

    def _basis(self, event: Event) -> tuple[str, str]:
        return SCHEDULE_BASIS, f"{event.schedule}@{event.day.isoformat()}"

    def _act(self, key: str, action: str, event: Event) -> ActionRequest:
        actor = f"{ACTOR_PREFIX}{event.schedule}"
        return self.actions.request(key, action, actor, policy=actor, basis=self._basis(event))

    def _stop_one(self, member: Member, event: Event, at: datetime, cost: tuple[Decimal, str] | None) -> None:
        key, day = member.resource.ref.key, event.day
        rate, source = cost if cost is not None else (None, None)
        try:
            req = self._act(key, "stop", event)
        except ActionNotAllowed as exc:
            self.store.move_night(event.schedule, day, key, [STOPPING], REFUSED, reason=str(exc))
            return
        except CostbotError as exc:
            self.store.move_night(event.schedule, day, key, [STOPPING], FAILED, reason=str(exc))
            return
        if req.action != "stop" or req.params.get("basis_ref") != self._basis(event)[1]:
            self.store.move_night(event.schedule, day, key, [STOPPING], REFUSED, request_id=req.id,
                                  reason=f"another action is under way ({req.action}, {req.status})")
        elif req.status != "succeeded":
            self.store.move_night(event.schedule, day, key, [STOPPING], FAILED if req.status == "failed" else REFUSED,
                                  request_id=req.id, reason=req.error or req.result or req.status)
        elif (req.result or "").startswith("dry run"):
            self.store.move_night(event.schedule, day, key, [STOPPING], DRY_RUN, request_id=req.id,
                                  reason=req.result)
        else:
            self.store.move_night(event.schedule, day, key, [STOPPING], STOPPED, request_id=req.id, stopped_at=at,
                                  hourly_cost=rate, cost_source=source)

    def _describe(self, key: str) -> Resource | None:
        ref = ResourceRef.parse(key)
        provider = self.providers.get(ref.provider)
        return provider.describe(ref) if provider is not None else None

    def _start(self, event: Event, apply: bool, at: datetime, claim: bool = True) -> list[Step]:
        """Start what the schedule stopped on earlier nights: never what a person stopped (it has no record), nor
        what someone acted on since (its latest action request is not the schedule's stop). Each record moves
        stopped -> starting once, so a late start racing the scheduler's start acts once per resource."""
        if apply:
            self._settle_interrupted(event)
        rows = [r for r in self.store.nights(event.schedule, states=[STOPPED]) if r.night < event.day]
        steps = []
        if apply and rows and claim and not self.store.claim_event(event.schedule, START, event.day.isoformat(),
                                                                   None, "costbot"):
            return []
        live = self._live() if apply and rows else {}
        for row in rows:
            if not apply:
                why = self._not_startable(row)
                outcome = f"would leave it: {why}" if why else "would start"
                steps.append(Step(event.schedule, START, event.day, row.team, row.name, outcome))
                continue
            if not self.store.move_night(row.schedule, row.night, row.resource_key, [STOPPED], STARTING):
                continue
            state, reason = self._start_one(row, event, at, live.get(row.resource_key))
            steps.append(Step(event.schedule, START, event.day, row.team, row.name,
                              state + (f": {reason}" if reason else "")))
        return steps

    def _settle_interrupted(self, event: Event) -> None:
        """Records a process left at `stopping` (it stopped between claiming a resource and recording the stop):
        the action request tells what happened — the schedule's own stop of that night succeeded, so the morning
        starts it; else nothing was stopped."""
        for row in self.store.nights(event.schedule, states=[STOPPING]):
            if row.night >= event.day:
                continue
            latest = self.actions.latest_request(row.resource_key)
            ours = latest is not None and latest.action == "stop" and \
                latest.params.get("basis_ref") == f"{row.schedule}@{row.night.isoformat()}"
            if ours and latest is not None and latest.status == "succeeded" and \
                    not (latest.result or "").startswith("dry run"):
                self.store.move_night(row.schedule, row.night, row.resource_key, [STOPPING], STOPPED,
                                      request_id=latest.id, stopped_at=latest.updated_at or latest.created_at,
                                      reason="recorded after its process stopped")
            elif latest is None or not ours or latest.status in ("failed", "refused", "rejected", "expired"):
                self.store.move_night(row.schedule, row.night, row.resource_key, [STOPPING], FAILED,
                                      reason="its process stopped before the stop took effect")

    def _live(self) -> dict[str, Resource]:
        """`listed`, by resource key."""
        return {r.ref.key: r for r in self.listed()}

    def _start_one(self, row: NightResource, event: Event, at: datetime,
                   live: Resource | None = None) -> tuple[str, str | None]:
        """Start one resource the schedule stopped (its record claimed): the action path re-checks it live, and
        one that runs again or is gone is left as it is."""
        why = self._acted_since(row) or self._changed_outside(row, live)
        state, reason = LEFT, why
        if why is None:
            try:
                req = self._act(row.resource_key, "start", event)
            except ActionNotAllowed as exc:  # already running, gone, protected now
                reason = str(exc)
            except CostbotError as exc:
                state, reason = FAILED, str(exc)
            else:
                if req.status == "succeeded" and req.action == "start":
                    state = STARTED
                else:
                    state, reason = FAILED, req.error or req.result or f"{req.action} {req.status}"
        if state == FAILED:
            self.store.move_night(row.schedule, row.night, row.resource_key, [STARTING], FAILED, reason=reason)
        else:
            self.store.move_night(row.schedule, row.night, row.resource_key, [STARTING], state, reason=reason,
                                  started_at=at)
        return state, reason

    def _acted_since(self, row: NightResource) -> str | None:
        """Someone acted on the resource after the schedule stopped it: its latest action is not the stop."""
        latest = self.actions.latest_request(row.resource_key)
        if latest is not None and latest.id != row.request_id:
            return f"someone acted on it since ({latest.action} by {latest.requested_by}, {latest.status})"
        return None

    def _changed_outside(self, row: NightResource, live: Resource | None) -> str | None:
        """Someone started or stopped it outside costbot after the schedule's stop (the provider's record of the
        last state change is later than the stop, as recorded and as its action request finished): it is theirs
        now, and stays as they left it."""
        changed = live.state_changed_at if live is not None else None
        stop = self.actions.latest_request(row.resource_key) if row.request_id is not None else None
        marks = [t for t in (row.stopped_at, stop.updated_at if stop is not None and stop.id == row.request_id
                             else None) if t is not None]
        if changed is None or not marks or changed <= max(marks) + OUTSIDE_MARGIN:
            return None
        return f"started or stopped outside costbot since the schedule stopped it ({changed:%Y-%m-%d %H:%M} UTC)"

    def _not_startable(self, row: NightResource) -> str | None:
        """Why a dry run would leave the resource off (read only)."""
        live = self._describe(row.resource_key)
        if live is None:
            return "it no longer exists"
        why = self._acted_since(row) or self._changed_outside(row, live)
        if why is not None:
            return why
        if live.running:
            return f"already {live.state}"
        if not live.stopped:
            return f"{live.state} now"
        return None

    # -- the heads-up's buttons ---------------------------------------------------------------------------
    def _heads_up_event(self, event_id: int) -> ScheduleEvent:
        claimed = self.store.event_by_id(event_id)
        if claimed is None or claimed.event != HEADS_UP or claimed.schedule not in self.config.schedules:
            raise ActionNotAllowed("this heads-up is no longer known to costbot")
        return claimed

    def _authorize(self, user: str, claimed: ScheduleEvent, what: str) -> None:
        """The owning team's members and approvers, and admins (as for Snooze); before the stop time only."""
        if not self.actions.may_act_for(user, claimed.team):
            whose = f"{claimed.team}'s members and approvers" if claimed.team else "admins"
            raise ActionNotAllowed(f"only {whose} can {what}")
        day = date.fromisoformat(claimed.day)
        hours = self.hours(claimed.schedule)
        if self.clock() >= hours.at(day, hours.off):
            raise ActionNotAllowed(f"the {claimed.schedule} stop of {claimed.day} has already happened")

    def keep(self, event_id: int, user: str, resource_key: str | None = None) -> Chosen:
        """*Keep running tonight*: one resource of the heads-up (`resource_key`), or all of them."""
        claimed = self._heads_up_event(event_id)
        day = date.fromisoformat(claimed.day)
        rows = self._team_rows(claimed.schedule, day, claimed.team)
        if resource_key is not None and resource_key not in {r.resource_key for r in rows}:
            raise ActionNotAllowed("this resource is not in this heads-up")
        self._authorize(user, claimed, "keep these resources running tonight")
        changed = []
        for row in rows:
            if resource_key is not None and row.resource_key != resource_key:
                continue
            if self.store.move_night(claimed.schedule, day, row.resource_key, [PLANNED], KEPT, by=user,
                                     reason=f"kept running tonight by <@{user}>"):
                self.actions.record(user, "keep", row.resource_key, PLANNED,
                                    f"{claimed.schedule} {claimed.day}: kept running tonight")
                changed.append(row.name)
        return Chosen(self._refresh(claimed) if changed else self._heads_up_view(claimed), tuple(changed))

    def skip_week(self, event_id: int, user: str) -> Chosen:
        """*Skip this week*: the team's resources on this schedule are not stopped again until Monday."""
        claimed = self._heads_up_event(event_id)
        day = date.fromisoformat(claimed.day)
        self._authorize(user, claimed, "skip this week's stops")
        if not self.store.claim_event(claimed.schedule, SKIP, week_of(day), claimed.team, user):
            return Chosen(self._heads_up_view(claimed), ())
        changed = []
        rows = self._team_rows(claimed.schedule, day, claimed.team)
        for row in rows:
            if self.store.move_night(claimed.schedule, day, row.resource_key, [PLANNED], SKIPPED, by=user,
                                     reason=f"the week skipped by <@{user}>"):
                changed.append(row.name)
                self.actions.record(user, "skip-week", row.resource_key, PLANNED,
                                    f"{claimed.schedule} {week_of(day)}: skipped")
            elif row.state == KEPT:  # kept tonight already, but the skip still holds it the rest of the week
                self.actions.record(user, "skip-week", row.resource_key, row.state,
                                    f"{claimed.schedule} {week_of(day)}: skipped")
        return Chosen(self._refresh(claimed), tuple(changed))

    def _refresh(self, claimed: ScheduleEvent) -> HeadsUp:
        view = self._heads_up_view(claimed)
        if self.notifier is not None and claimed.channel and claimed.message_ts:
            try:
                self.notifier.update_heads_up(claimed.channel, claimed.message_ts, view)
            except CostbotError as exc:
                log.warning("could not update the heads-up %s: %s", claimed.id, exc)
        return view
