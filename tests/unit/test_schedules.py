"""Off-hours schedules: the domain (when each heads-up, stop and start is due, in the schedule's time zone across
daylight saving, weekends and holidays; savings), the config (validation naming the key; which resources follow
which schedule), and the use case on the in-memory fakes (one heads-up per team, Keep / Skip, busy kept, the
morning start bringing back only what the schedule stopped)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
import yaml

from bot.config import parse_config
from bot.domain.actions import ActionNotAllowed
from bot.domain.errors import ConfigError
from bot.domain.resources import Utilization
from bot.domain.schedules import (
    BUSY,
    HEADS_UP,
    KEPT,
    PLANNED,
    SKIPPED,
    START,
    STARTED,
    STOP,
    STOPPED,
    NightResource,
    OffHours,
    due,
    events,
    hours_between,
    next_event,
    saved,
    week_of,
)
from tests.fakes import FakeClock, build_world

BERLIN = "Europe/Berlin"
OFFICE = OffHours("office-hours", time(8), time(20), BERLIN, weekends_off=True,
                  holidays=frozenset({date(2026, 12, 24)}))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- the domain ----------------------------------------------------------------------------------------------------
def test_a_working_day_has_its_heads_up_stop_and_start_in_local_time() -> None:
    # Tuesday 1 December 2026, Berlin is UTC+1: 08:00 -> 07:00 UTC, 19:30 -> 18:30 UTC, 20:00 -> 19:00 UTC
    found = events(OFFICE, utc(2026, 12, 1, 0, 0), utc(2026, 12, 1, 23, 59))
    assert [(e.kind, e.at) for e in found] == [(START, utc(2026, 12, 1, 7)), (HEADS_UP, utc(2026, 12, 1, 18, 30)),
                                               (STOP, utc(2026, 12, 1, 19))]
    assert {e.day for e in found} == {date(2026, 12, 1)} and found[2].key == "stop@2026-12-01"


def test_weekends_and_holidays_have_no_events_friday_stop_starts_monday() -> None:
    # Thursday 24 December is a holiday; Saturday and Sunday are off
    found = events(OFFICE, utc(2026, 12, 23, 12), utc(2026, 12, 28, 12))
    assert [(e.kind, e.day) for e in found] == [
        (HEADS_UP, date(2026, 12, 23)), (STOP, date(2026, 12, 23)),
        (START, date(2026, 12, 25)), (HEADS_UP, date(2026, 12, 25)), (STOP, date(2026, 12, 25)),
        (START, date(2026, 12, 28))]
    assert next_event(OFFICE, utc(2026, 12, 25, 20), START) is not None
    assert next_event(OFFICE, utc(2026, 12, 25, 20), START).at == utc(2026, 12, 28, 7)  # type: ignore[union-attr]
    every_day = OffHours("x", time(8), time(20), BERLIN, weekends_off=False)
    assert [e.day for e in events(every_day, utc(2026, 12, 26, 0), utc(2026, 12, 26, 23)) if e.kind == STOP] == \
        [date(2026, 12, 26)]


def test_daylight_saving_moves_the_utc_instant_not_the_local_hour() -> None:
    # Berlin goes to summer time on Sunday 29 March 2026 and back on Sunday 25 October 2026
    before = events(OFFICE, utc(2026, 3, 27, 0), utc(2026, 3, 27, 23))  # Friday, UTC+1
    after = events(OFFICE, utc(2026, 3, 30, 0), utc(2026, 3, 30, 23))  # Monday, UTC+2
    assert [e.at for e in before if e.kind == STOP] == [utc(2026, 3, 27, 19)]
    assert [e.at for e in after if e.kind == START] == [utc(2026, 3, 30, 6)]
    autumn = events(OFFICE, utc(2026, 10, 26, 0), utc(2026, 10, 26, 23))  # Monday after, UTC+1 again
    assert [e.at for e in autumn if e.kind == START] == [utc(2026, 10, 26, 7)]
    # a night on the change itself: an every-day schedule stopping at 20:00 on the Saturday, starting 08:00 Sunday
    weekend = OffHours("w", time(8), time(20), BERLIN, weekends_off=False)
    night = events(weekend, utc(2026, 3, 28, 18, 45), utc(2026, 3, 29, 12))
    assert [(e.kind, e.at) for e in night] == [(STOP, utc(2026, 3, 28, 19)), (START, utc(2026, 3, 29, 6))]
    assert hours_between(night[0].at, night[1].at) == Decimal(11)  # the night is an hour shorter


def test_due_catches_up_within_the_grace_but_never_a_heads_up_after_its_stop() -> None:
    grace = timedelta(hours=2)
    assert [e.kind for e in due(OFFICE, utc(2026, 12, 1, 18, 30), grace)] == [HEADS_UP]
    assert [e.kind for e in due(OFFICE, utc(2026, 12, 1, 18, 45), grace)] == [HEADS_UP]
    assert [e.kind for e in due(OFFICE, utc(2026, 12, 1, 19, 0), grace)] == [STOP]  # the heads-up is moot now
    assert due(OFFICE, utc(2026, 12, 1, 21, 30), grace) == []  # the stop was more than two hours ago
    assert [e.kind for e in due(OFFICE, utc(2026, 12, 2, 7, 5), grace)] == [START]


def test_week_of_and_savings_per_resource() -> None:
    assert week_of(date(2026, 12, 1)) == "2026-W49" and week_of(date(2026, 12, 6)) == "2026-W49"
    assert week_of(date(2026, 12, 7)) == "2026-W50"
    night = NightResource("office-hours", date(2026, 12, 1), "k1", "team-ml", "gpu-dev", STARTED,
                          stopped_at=utc(2026, 12, 1, 19), started_at=utc(2026, 12, 2, 7),
                          hourly_cost=Decimal("5.672"))
    still = NightResource("office-hours", date(2026, 12, 1), "k2", "team-ml", "nb", STOPPED,
                          stopped_at=utc(2026, 12, 1, 19), hourly_cost=Decimal("0.2"))
    got = saved("office-hours", [night, still], utc(2026, 11, 30), utc(2026, 12, 2, 9))
    # 12 h × 5.672 = 68.064; the notebook is still off: 14 h to the end of the period × 0.2 = 2.8
    assert got.hours == Decimal(26) and got.amount == Decimal("70.864") and got.resources == 2
    assert got.by_resource == (("gpu-dev", Decimal(12), Decimal("68.064")), ("nb", Decimal(14), Decimal("2.8")))
    # a period that began after the stop counts from its start
    assert saved("office-hours", [night], utc(2026, 12, 2, 1), utc(2026, 12, 3)).hours == Decimal(6)


# -- the config ----------------------------------------------------------------------------------------------------
CONFIG_YAML = """
timezone: Europe/Berlin
schedules:
  office-hours: {on: "08:00", off: "20:00", weekends: off, holidays: [2026-12-24]}
  late: {on: "10:00", off: "22:00", timezone: UTC}
teams:
  team-ml:
    tags: {team: ml}
    channel: "#team-ml"
    members: [U0MEMBER1]
    approvers: [U0ML00001]
    schedule: {name: office-hours, tags: {env: dev}, kinds: [vm, notebook]}
  team-data:
    tags: {team: data}
    channel: "#team-data"
    schedule: late
admins: [U0ADMIN01]
"""


def config(text: str = CONFIG_YAML) -> object:
    return parse_config(yaml.safe_load(text), "costbot.yml")


def test_yaml_on_off_words_are_read_back() -> None:
    cfg = parse_config(yaml.safe_load(CONFIG_YAML))
    office = cfg.schedules["office-hours"]
    assert (office.on, office.off, office.weekends, office.holidays, office.timezone) == (
        "08:00", "20:00", "off", [date(2026, 12, 24)], None)
    assert cfg.schedule_zone("office-hours") == BERLIN and cfg.schedule_zone("late") == "UTC"
    assert cfg.teams["team-data"].schedule is not None and cfg.teams["team-data"].schedule.name == "late"


@pytest.mark.parametrize(("change", "message"), [
    ("schedules:\n  x: {on: 08:00, off: 20:00}", 'schedules.x.off: Value error, write times in quotes, e.g. "20:00"'),
    ('schedules:\n  x: {on: "8am", off: "20:00"}', "schedules.x.on: Value error, '8am' is not a time of day as HH:MM"),
    ('schedules:\n  x: {on: "08:00", off: "24:00"}', "schedules.x.off: Value error, '24:00' is not a time of day"),
    ('schedules:\n  x: {on: "20:00", off: "08:00"}', "schedules.x: Value error, on (20:00) must come before off"),
    ('schedules:\n  x: {on: "08:00", off: "20:00", timezone: Mars/Olympus}',
     "schedules.x.timezone: Value error, unknown time zone 'Mars/Olympus'"),
    ('schedules:\n  x: {on: "08:00", off: "20:00", weekends: sometimes}', "schedules.x.weekends: Input should be"),
    ('schedules:\n  x: {on: "08:00", off: "20:00"}\nteams:\n  ml: {tags: {team: ml}, schedule: nights}',
     "teams.ml.schedule: unknown schedule 'nights' (known: x)"),
    ('schedules:\n  none: {on: "08:00", off: "20:00"}', "schedules: Value error, schedule name 'none' must be"),
    ('schedules:\n  ' + "x" * 49 + ': {on: "08:00", off: "20:00"}', "(at most 48; not none or off)"),
    ('teams:\n  ml: {tags: {team: ml}, schedule: nights}',
     "teams.ml.schedule: unknown schedule 'nights' (known: none are defined under `schedules:`)"),
])
def test_bad_schedules_are_refused_naming_the_key(change: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(yaml.safe_load(change), "costbot.yml")
    assert message in str(err.value)


def test_which_resources_follow_which_schedule() -> None:
    cfg = parse_config(yaml.safe_load(CONFIG_YAML))
    assert cfg.schedule_for({"team": "ml", "env": "dev"}, "vm") == "office-hours"
    assert cfg.schedule_for({"team": "ml", "env": "DEV"}, "notebook") == "office-hours"
    assert cfg.schedule_for({"team": "ml", "env": "dev"}, "endpoint") is None  # not a kind the team listed
    assert cfg.schedule_for({"team": "ml", "env": "prod"}, "vm") is None  # not the team's selector
    assert cfg.schedule_for({"team": "data"}, "vm") == "late"  # a team schedule without a selector: all
    assert cfg.schedule_for({"team": "ml", "costbot:schedule": "late"}, "vm") == "late"  # its own tag wins
    assert cfg.schedule_for({"team": "data", "costbot:schedule": "none"}, "vm") is None  # opted out
    assert cfg.schedule_for({"team": "data", "costbot:schedule": "nights"}, "vm") is None  # unknown: none
    assert cfg.schedule_for({"costbot:schedule": "Office-Hours"}, "vm") == "office-hours"  # no team needed


# -- the use case on fakes -----------------------------------------------------------------------------------------
CHANNELS = {"#team-ml": "C0TEAMML1", "#team-data": "C0TEAMDAT"}
IDLE = Utilization(hours=2, cpu_max=2.0, gpu_max=1.0)


@pytest.fixture
def world():  # type: ignore[no-untyped-def]
    w = build_world(parse_config(yaml.safe_load(CONFIG_YAML)), channel_ids=CHANNELS,
                    clock=FakeClock(utc(2026, 12, 1, 12)))
    caps = ("stop", "start", "schedule")
    w.keys = {  # type: ignore[attr-defined]
        "dev-a": w.provider.add("i-a", name="dev-a", tags={"team": "ml", "env": "dev"}, capabilities=caps, usage=IDLE),
        "dev-b": w.provider.add("i-b", name="dev-b", tags={"team": "ml", "env": "dev"}, capabilities=caps, usage=IDLE),
        "busy": w.provider.add("i-c", name="busy", tags={"team": "ml", "env": "dev"}, capabilities=caps,
                               usage=Utilization(hours=2, cpu_max=40.0, gpu_max=88.0)),
        "keep": w.provider.add("i-d", name="keep", tags={"team": "ml", "env": "dev", "costbot": "protected"},
                               capabilities=caps, usage=IDLE),
        "off": w.provider.add("i-e", name="off", state="stopped", tags={"team": "ml", "env": "dev"},
                              capabilities=caps),
        "prod": w.provider.add("i-f", name="prod", tags={"team": "ml", "env": "prod", "costbot:schedule": "late"},
                               capabilities=caps),
        "other": w.provider.add("i-g", name="other", tags={"team": "ml", "env": "test"}, capabilities=caps),
    }
    return w


def test_heads_up_then_stop_keeps_kept_and_busy_and_the_start_restores_only_what_it_stopped(world) -> None:  # type: ignore[no-untyped-def]
    svc, keys, provider = world.use_cases.schedules, world.keys, world.provider
    steps = svc.run(utc(2026, 12, 1, 18, 30))  # 19:30 in Berlin
    assert [(s.event, s.team, s.what, s.outcome) for s in steps] == [
        (HEADS_UP, "team-ml", "#team-ml", "posted: 3 to stop (busy, dev-a, dev-b)")]
    ((channel, view),) = world.schedule_notifier.heads_ups
    assert channel == "C0TEAMML1" and [r.name for r in view.planned] == ["busy", "dev-a", "dev-b"]
    assert view.stop_local.strftime("%H:%M %Z") == "20:00 CET"
    assert svc.run(utc(2026, 12, 1, 18, 35)) == [] and len(world.schedule_notifier.heads_ups) == 1  # once
    # a member keeps dev-b; someone outside the team may not
    with pytest.raises(ActionNotAllowed, match="only team-ml's members and approvers"):
        svc.keep(view.event_id, "U0STRANGER", keys["dev-b"])
    kept = svc.keep(view.event_id, "U0MEMBER1", keys["dev-b"])
    assert {r.name: r.state for r in kept.view.rows} == {"busy": PLANNED, "dev-a": PLANNED, "dev-b": KEPT}
    assert kept.changed == ("dev-b",)
    assert svc.keep(view.event_id, "U0ADMIN01", keys["dev-b"]).changed == ()  # a second click changes nothing
    keeps = [e for e in world.action_store.audit(50) if e.action == "keep"]
    assert [(e.actor, e.resource_key) for e in keeps] == [("U0MEMBER1", keys["dev-b"])]
    assert len(world.schedule_notifier.updates) == 1
    # 20:00: dev-a stops; busy is kept and reported; dev-b was kept; the protected and the stopped are untouched
    steps = svc.run(utc(2026, 12, 1, 19, 0))
    assert {s.what: s.outcome.split(":")[0] for s in steps} == {"busy": BUSY, "dev-a": STOPPED, "dev-b": KEPT}
    assert [(c.op, c.key) for c in provider.acted()] == [("stop", keys["dev-a"])]
    (*_, (_, _, final)) = world.schedule_notifier.updates  # the heads-up after the stop: no buttons left
    assert final.planned == () and {r.name: r.state for r in final.rows}["dev-a"] == STOPPED
    ((_, report),) = world.schedule_notifier.reports
    assert [r.name for r in report.stopped] == ["dev-a"] and [r.name for r in report.running] == ["busy", "dev-b"]
    assert "GPU 88%, CPU 40%" in (next(r for r in report.running if r.name == "busy").reason or "")
    # a person stops dev-b during the night: the morning start never starts it
    provider.set_state(keys["dev-b"], "stopped")
    steps = svc.run(utc(2026, 12, 2, 7, 0))
    assert [(s.event, s.what, s.outcome) for s in steps] == [(START, "dev-a", STARTED)]
    assert provider.state_of(keys["dev-a"]) == ("running", "g5.xlarge")
    assert provider.state_of(keys["dev-b"]) == ("stopped", "g5.xlarge")
    assert svc.run(utc(2026, 12, 2, 7, 5)) == []  # once
    starts = [e for e in world.action_store.audit(50) if e.action == "start" and e.result == "succeeded"]
    assert [(e.actor, e.resource_key) for e in starts] == [("schedule:office-hours", keys["dev-a"])]


def test_skip_this_week_and_the_dry_run_changes_nothing(world) -> None:  # type: ignore[no-untyped-def]
    svc = world.use_cases.schedules
    dry = svc.run(utc(2026, 12, 1, 19, 0), apply=False)
    assert {s.what: s.outcome for s in dry} == {
        "busy": "would keep running: busy at the off time (GPU 88%, CPU 40%; idle is below GPU 5% and CPU 10%)",
        "dev-a": "would stop (running now)", "dev-b": "would stop (running now)"}
    assert world.provider.acted() == [] and world.schedule_store.nights() == []
    svc.run(utc(2026, 12, 1, 18, 30))
    ((_, view),) = world.schedule_notifier.heads_ups
    skipped = svc.skip_week(view.event_id, "U0ML00001")
    assert skipped.view.skipped_by == "U0ML00001" and {r.state for r in skipped.view.rows} == {SKIPPED}
    assert skipped.changed == ("busy", "dev-a", "dev-b")
    assert svc.skip_week(view.event_id, "U0ADMIN01").changed == ()
    svc.run(utc(2026, 12, 1, 19, 0))
    assert world.provider.acted() == []
    # Wednesday of the same week: no heads-up, no stop and no report for the team
    assert svc.run(utc(2026, 12, 2, 18, 30)) == []
    assert {s.outcome for s in svc.run(utc(2026, 12, 2, 19, 0))} == {"skipped: the week skipped by <@U0ML00001>"}
    assert world.provider.acted() == [] and world.schedule_notifier.reports == []
    assert len(world.schedule_notifier.heads_ups) == 1
    # the next week stops again
    assert [s.event for s in svc.run(utc(2026, 12, 7, 18, 30))] == [HEADS_UP]


def test_a_click_after_the_stop_is_refused(world) -> None:  # type: ignore[no-untyped-def]
    svc = world.use_cases.schedules
    svc.run(utc(2026, 12, 1, 18, 30))
    ((_, view),) = world.schedule_notifier.heads_ups
    world.clock.now = utc(2026, 12, 1, 19, 1)
    with pytest.raises(ActionNotAllowed, match="has already happened"):
        svc.keep(view.event_id, "U0MEMBER1")


def test_the_weekly_digest_reports_what_the_schedules_saved_that_week() -> None:
    from bot.render.digest_blocks import digest_blocks

    w = build_world(parse_config(yaml.safe_load(CONFIG_YAML)), channel_ids=CHANNELS, today=date(2026, 12, 8),
                    clock=FakeClock(utc(2026, 12, 1, 12)))
    caps = ("stop", "start", "schedule")
    w.provider.add("i-a", name="dev-a", tags={"team": "ml", "env": "dev"}, capabilities=caps, usage=IDLE,
                   hourly_price=Decimal("1.006"))
    svc = w.use_cases.schedules
    for moment in (utc(2026, 12, 1, 18, 30), utc(2026, 12, 1, 19), utc(2026, 12, 2, 7)):
        svc.run(moment)
    # Tuesday 19:00 UTC to Wednesday 07:00 UTC: 12 hours off at the price table's $1.006 an hour (no bill here)
    assert svc.saved_all(utc(2026, 11, 29, 23), utc(2026, 12, 6, 23), "team-ml") == Decimal("12.072")
    assert svc.saved_all(utc(2026, 11, 29, 23), utc(2026, 12, 6, 23), "team-data") == Decimal(0)
    digest = w.use_cases.digests.build("team-ml", cadence="weekly")
    assert digest.week_start == date(2026, 11, 30) and digest.schedule_savings == Decimal("12.072")
    text = "\n".join(str(b.to_dict()) for b in digest_blocks(digest))
    assert ":crescent_moon: Off-hours schedules saved $12.07 that week (hours off × each resource's hourly " \
           "cost)" in text
    assert w.use_cases.digests.build("team-data", cadence="weekly").schedule_savings is None
    assert w.use_cases.digests.build("team-ml").schedule_savings is None  # daily digests: not a week


def test_with_dry_run_nothing_stops_and_nothing_starts(world) -> None:  # type: ignore[no-untyped-def]
    cfg = world.config.model_copy(update={"dry_run": True})
    w = build_world(cfg, channel_ids=CHANNELS, provider=world.provider, clock=world.clock)
    svc = w.use_cases.schedules
    svc.run(utc(2026, 12, 1, 18, 30))
    steps = svc.run(utc(2026, 12, 1, 19))
    assert {s.what: s.outcome.split(":")[0] for s in steps} == {"busy": BUSY, "dev-a": "dry-run", "dev-b": "dry-run"}
    assert world.provider.acted() == [] and w.schedule_notifier.reports[0][1].dry_run
    assert svc.run(utc(2026, 12, 2, 7)) == []  # nothing was stopped, so nothing is started
    assert world.provider.acted() == []


def test_the_scheduler_runs_the_schedules_job_under_the_lease(world) -> None:  # type: ignore[no-untyped-def]
    from bot.jobs import CostbotScheduler, planned_runs, system_jobs
    from tests.fakes import FakeLeaseStore

    assert [j for j, _, _ in system_jobs(world.config, has_sources=False)] == ["insights", "upkeep"]  # no providers
    cfg = parse_config({**yaml.safe_load(CONFIG_YAML), "providers": [{"kind": "demo"}]})
    jobs = {job_id: trigger for job_id, _, trigger in system_jobs(cfg, has_sources=False)}
    assert "schedules" in jobs and str(jobs["schedules"]) == "interval[0:05:00]"
    runs = {j: at for j, _, at in planned_runs(cfg, [], False, utc(2026, 12, 1, 18, 31))}
    assert runs["schedules"] == utc(2026, 12, 1, 18, 35)
    scheduler = CostbotScheduler(world.use_cases, FakeLeaseStore(), world.config)
    try:
        assert scheduler.tick()
        assert "schedules" not in {j.id for j in scheduler.jobs()}  # the fixture's config has no providers
    finally:
        scheduler.stop(timeout=5)
    scheduler = CostbotScheduler(world.use_cases, FakeLeaseStore(), cfg)
    try:
        assert scheduler.tick() and "schedules" in {j.id for j in scheduler.jobs()}
        world.clock.now = utc(2026, 12, 1, 18, 30)
        scheduler.run_schedules()  # what the job runs: the heads-up due now
        assert len(world.schedule_notifier.heads_ups) == 1
    finally:
        scheduler.stop(timeout=5)


def test_a_missed_morning_start_happens_as_soon_as_a_scheduler_runs_in_working_hours(world) -> None:  # type: ignore[no-untyped-def]
    svc, keys, provider = world.use_cases.schedules, world.keys, world.provider
    svc.run(utc(2026, 12, 1, 18, 30))
    svc.run(utc(2026, 12, 1, 19))
    assert provider.state_of(keys["dev-a"])[0] == "stopped"  # type: ignore[index]
    # no scheduler from 07:00 to 12:00 UTC: the start is five hours late, past the two-hour catch-up
    assert due(svc.hours("office-hours"), utc(2026, 12, 2, 12), timedelta(hours=2)) == []
    steps = svc.run(utc(2026, 12, 2, 12))
    assert [(s.event, s.what, s.outcome) for s in steps if s.event == START] == [
        (START, "dev-a", STARTED), (START, "dev-b", STARTED)]
    assert provider.state_of(keys["dev-a"])[0] == "running"  # type: ignore[index]
    assert svc.run(utc(2026, 12, 2, 12, 5)) == []
    # outside working hours nothing starts late: a stop at 20:00, then a run at 23:00 leaves them off
    svc.run(utc(2026, 12, 2, 18, 30))
    svc.run(utc(2026, 12, 2, 19))
    assert svc.run(utc(2026, 12, 2, 22)) == [] and provider.state_of(keys["dev-a"])[0] == "stopped"  # type: ignore[index]


def test_the_morning_leaves_what_someone_started_or_acted_on_since(world) -> None:  # type: ignore[no-untyped-def]
    svc, keys, provider = world.use_cases.schedules, world.keys, world.provider
    svc.run(utc(2026, 12, 1, 18, 30))
    svc.run(utc(2026, 12, 1, 19))
    provider.set_state(keys["dev-a"], "running")  # started by hand in the night (outside costbot)
    stop_req = world.action_store.latest_request(keys["dev-b"])
    undo = world.use_cases.actions.request(keys["dev-b"], "start", "U0ML00001", undo_of=stop_req.id)
    assert undo.status == "succeeded"  # started through costbot by an approver in the night...
    provider.set_state(keys["dev-b"], "stopped")  # ...and stopped again by hand
    provider.calls.clear()
    dry = svc.run(utc(2026, 12, 2, 7), apply=False)
    assert {s.what: s.outcome for s in dry} == {
        "dev-a": "would leave it: already running",
        "dev-b": "would leave it: someone acted on it since (start by U0ML00001, succeeded)"}
    steps = svc.run(utc(2026, 12, 2, 7))
    assert {s.what: s.outcome for s in steps} == {
        "dev-a": "left: dev-a is already running",
        "dev-b": "left: someone acted on it since (start by U0ML00001, succeeded)"}
    assert provider.acted() == [] and provider.state_of(keys["dev-b"])[0] == "stopped"  # type: ignore[index]


def test_the_cli_names_what_is_wrong(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    missing = cli("schedules", "run", "--at", "2026-12-01T20:00")
    assert missing.code == 1 and "no schedules configured" in missing.err
    (tmp_path / "costbot.yml").write_text(
        'timezone: Europe/Berlin\nproviders: [{kind: demo}]\nschedules:\n  office-hours: {"on": "08:00", "off": '
        '"20:00"}\nteams:\n  team-ml: {tags: {team: ml}, channel: "#team-ml", schedule: {name: office-hours, '
        'tags: {env: dev}}}\n')
    bad = cli("schedules", "run", "--at", "yesterday")
    assert bad.code == 1 and "--at must be a date and time such as 2026-12-01T19:30, got 'yesterday'" in bad.err
    dry = cli("schedules", "run", "--at", "2026-12-01T19:30", "--json")
    assert dry.code == 0 and dry.json() == {"at": "2026-12-01T19:30:00+01:00", "applied": False, "steps": [
        {"schedule": "office-hours", "event": "heads-up", "day": "2026-12-01", "team": "team-ml", "what": "#team-ml",
         "outcome": "would post: 2 to stop (gpu-dev-02, nb-ml-research)"}]}
    nothing = cli("schedules", "run", "--at", "2026-12-01T12:00")
    assert nothing.code == 0 and "Nothing is due." in nothing.out
    # acting now as if it were later would judge "busy" on metrics that do not exist yet, with no heads-up time
    ahead = cli("schedules", "run", "--at", "2099-12-01T20:00", "--apply")
    assert ahead.code == 1 and "--apply acts now, and 2099-12-01T20:00 is still to come" in ahead.err
    assert cli("schedules", "run", "--at", "2099-12-01T20:00").code == 0  # the dry run shows it
    # the plan names the next stop and start in the order they come
    assert "next start Tue 2026-12-01 08:00 CET · next stop Tue 2026-12-01 20:00 CET" in \
        cli("schedules", "--at", "2026-12-01T06:00").out
    assert "next stop Tue 2026-12-01 20:00 CET · next start Wed 2026-12-02 08:00 CET" in \
        cli("schedules", "--at", "2026-12-01T12:00").out


def test_a_stop_whose_process_died_before_recording_it_is_still_started_in_the_morning(world) -> None:  # type: ignore[no-untyped-def]
    svc, keys, provider, store = world.use_cases.schedules, world.keys, world.provider, world.schedule_store
    svc.run(utc(2026, 12, 1, 18, 30))
    night = date(2026, 12, 1)
    # the stopping process claims the team's stop and dev-a's record, stops it, and dies before recording it;
    # dev-b's record was claimed but its stop never requested
    assert store.claim_event("office-hours", STOP, "2026-12-01", "team-ml", "costbot")
    assert store.move_night("office-hours", night, keys["dev-a"], [PLANNED], "stopping")
    assert store.move_night("office-hours", night, keys["dev-b"], [PLANNED], "stopping")
    world.use_cases.actions.request(keys["dev-a"], "stop", "schedule:office-hours", policy="schedule:office-hours",
                                    basis=("schedule", "office-hours@2026-12-01"))
    assert provider.state_of(keys["dev-a"])[0] == "stopped"  # type: ignore[index]
    assert svc.run(utc(2026, 12, 1, 19)) == []  # the stop is claimed: nothing again
    steps = svc.run(utc(2026, 12, 2, 7))
    assert [(s.what, s.outcome) for s in steps] == [("dev-a", STARTED)]
    assert provider.state_of(keys["dev-a"])[0] == "running"  # type: ignore[index]
    assert {r.name: r.state for r in store.nights("office-hours")}["dev-b"] == "failed"


def test_a_heads_up_slack_could_not_take_is_posted_at_the_next_run_once(world) -> None:  # type: ignore[no-untyped-def]
    from bot.domain.errors import NotifyError

    svc, notifier = world.use_cases.schedules, world.schedule_notifier
    notifier.fail = NotifyError("Slack could not be reached (URLError)")
    (step,) = svc.run(utc(2026, 12, 1, 18, 30))
    assert step.outcome == "not posted (Slack could not be reached (URLError)); posted again at the next run"
    notifier.fail = None
    (step,) = svc.run(utc(2026, 12, 1, 18, 35))
    assert step.outcome == "posted again: 3 to stop (busy, dev-a, dev-b)"
    assert svc.run(utc(2026, 12, 1, 18, 35)) == [] and svc.run(utc(2026, 12, 1, 18, 40)) == []
    ((channel, view),) = notifier.heads_ups
    assert channel == "C0TEAMML1" and len(view.planned) == 3
    event = world.schedule_store.event("office-hours", HEADS_UP, "2026-12-01", "team-ml")
    assert event is not None and event.message_ts == "1.000"


def test_a_heads_up_whose_claimer_died_before_posting_is_posted_by_a_later_run(world) -> None:  # type: ignore[no-untyped-def]
    """The process that claimed the heads-up ended before it posted (no failure recorded): once the claim is
    3 minutes old, a later run posts it (before the stop), once; a fresh claim is left to its claimer."""
    from dataclasses import replace as changed

    from bot.services.schedules import LOST_AFTER

    svc, store, notifier = world.use_cases.schedules, world.schedule_store, world.schedule_notifier
    assert store.claim_event("office-hours", HEADS_UP, "2026-12-01", "team-ml", "costbot")  # then the crash
    assert svc.run(utc(2026, 12, 1, 18, 31)) == [] and notifier.heads_ups == []  # in flight, maybe: left alone
    key = ("office-hours", HEADS_UP, "2026-12-01", "team-ml")
    claimed = store._events[key]
    store._events[key] = changed(claimed, at=claimed.at - LOST_AFTER - timedelta(seconds=1))
    (step,) = svc.run(utc(2026, 12, 1, 18, 36))
    assert step.outcome.startswith("posted again: ")
    ((channel, _),) = notifier.heads_ups
    assert channel == "C0TEAMML1" and svc.run(utc(2026, 12, 1, 18, 41)) == []


def test_env_prod_is_read_through_tag_keys_too() -> None:
    """An organization whose `env` dimension is the tag `environment`: environment=prod is production as well, so
    neither a schedule nor any policy stops it."""
    cfg = parse_config(yaml.safe_load(CONFIG_YAML.replace("timezone: Europe/Berlin",
                                                          "timezone: Europe/Berlin\ntag_keys: {team: team, env: "
                                                          "environment}")))
    assert cfg.is_prod({"Environment": "Prod"}) and cfg.is_prod({"env": "prod"})
    assert not cfg.is_prod({"environment": "dev", "stage": "prod"})
    w = build_world(cfg, channel_ids=CHANNELS, clock=FakeClock(utc(2026, 12, 1, 12)))
    caps = ("stop", "start", "schedule")
    key = w.provider.add("i-p", name="serving", tags={"team": "ml", "environment": "prod",
                                                      "costbot:schedule": "office-hours"},
                         capabilities=caps, usage=IDLE)
    (plan,) = [p for p in w.use_cases.schedules.plan() if p.name == "office-hours"]
    assert [(r.name, r.note) for r in plan.rows] == [("serving", "env=prod: a schedule never stops it")]
    svc = w.use_cases.schedules
    assert svc.run(utc(2026, 12, 1, 18, 30)) == [] and svc.run(utc(2026, 12, 1, 19)) == []
    assert w.provider.acted() == [] and w.provider.state_of(key)[0] == "running"
    with pytest.raises(ActionNotAllowed, match="env=prod"):
        w.use_cases.actions.request(key, "stop", "schedule:office-hours", policy="schedule:office-hours",
                                    basis=("schedule", "office-hours@2026-12-01"))


def test_a_heads_up_that_cannot_be_posted_says_why(world) -> None:  # type: ignore[no-untyped-def]
    """Slack not connected (a terminal run with no token) and a resource no team owns with no owners_channel are
    different fixes: the step names which one it is."""
    from bot.services.schedules import ScheduleService

    world.provider.add("i-u", name="unowned", tags={"costbot:schedule": "office-hours"},
                       capabilities=("stop", "start", "schedule"), usage=IDLE)
    svc = ScheduleService([world.provider], world.schedule_store, world.use_cases.actions, world.config, None,
                          clock=world.clock)
    steps = svc.run(utc(2026, 12, 1, 18, 30))
    assert [(s.team, s.what, s.outcome) for s in steps] == [
        (None, "(no channel)", "not posted: no channel (teams.*.channel or owners_channel)"),
        ("team-ml", "#team-ml", "not posted: Slack is not connected")]


def test_busy_is_judged_on_the_metrics_that_are_published(world) -> None:  # type: ignore[no-untyped-def]
    """As the README says: GPU not measured -> CPU alone decides; nothing measured -> not busy, so stopped."""
    caps = ("stop", "start", "schedule")
    tags = {"team": "ml", "env": "dev"}
    world.provider.add("i-h", name="cpu-only", tags=tags, capabilities=caps,
                       usage=Utilization(hours=2, cpu_max=55.0))
    world.provider.add("i-i", name="unmeasured", tags=tags, capabilities=caps)
    dry = world.use_cases.schedules.run(utc(2026, 12, 1, 19, 0), apply=False)
    outcomes = {s.what: s.outcome for s in dry}
    assert outcomes["cpu-only"] == ("would keep running: busy at the off time (CPU 55%; idle is below GPU 5% and "
                                    "CPU 10%)")
    assert outcomes["unmeasured"] == "would stop (running now)"


def test_what_someone_started_and_stopped_outside_costbot_overnight_is_left_off(world) -> None:  # type: ignore[no-untyped-def]
    """The schedule stopped dev-a and dev-b; overnight someone started dev-b in the cloud's console and stopped it
    again. Costbot has no record of that, but the provider says when its state last changed: dev-b is theirs now."""
    svc, keys, provider = world.use_cases.schedules, world.keys, world.provider
    svc.run(utc(2026, 12, 1, 18, 30))
    ((_, view),) = world.schedule_notifier.heads_ups
    svc.keep(view.event_id, "U0MEMBER1", keys["busy"])
    svc.run(utc(2026, 12, 1, 19, 0))  # 20:00 in Berlin: dev-a and dev-b stopped
    provider.console(keys["dev-b"], "running", utc(2026, 12, 1, 22, 10))
    provider.console(keys["dev-b"], "stopped", utc(2026, 12, 1, 23, 40))
    dry = svc.run(utc(2026, 12, 2, 7, 0), apply=False)
    assert {(s.what, s.outcome) for s in dry} == {
        ("dev-a", "would start"),
        ("dev-b", "would leave it: started or stopped outside costbot since the schedule stopped it (2026-12-01 "
                  "23:40 UTC)")}
    steps = svc.run(utc(2026, 12, 2, 7, 0))  # 08:00 in Berlin
    assert {(s.what, s.outcome) for s in steps} == {
        ("dev-a", STARTED),
        ("dev-b", "left: started or stopped outside costbot since the schedule stopped it (2026-12-01 23:40 UTC)")}
    assert [c.key for c in provider.calls if c.op == "start"] == [keys["dev-a"]]


def test_a_team_schedule_naming_a_kind_no_provider_schedules_is_a_config_error(world) -> None:  # type: ignore[no-untyped-def]
    """A typo or a kind that cannot be stopped on a schedule would leave the team's boxes running every night."""
    from bot.domain.errors import ConfigError as Refused

    svc = world.use_cases.schedules
    team = svc.config.teams["team-ml"]
    assert team.schedule is not None
    svc.config = svc.config.model_copy(update={"teams": {**svc.config.teams, "team-ml": team.model_copy(update={
        "schedule": team.schedule.model_copy(update={"kinds": ["vm", "endpoint", "nootbook"]})})}})
    with pytest.raises(Refused) as err:
        svc.plan(utc(2026, 12, 1, 12))
    assert str(err.value) == ("teams.team-ml.schedule.kinds: endpoint, nootbook cannot be stopped and started on a "
                              "schedule (kinds that can: notebook, vm)")
    with pytest.raises(Refused):
        svc.run(utc(2026, 12, 1, 18, 30))
    assert world.schedule_notifier.heads_ups == [] and world.provider.calls == []


def test_a_friday_heads_up_says_the_resources_come_back_on_monday(world) -> None:  # type: ignore[no-untyped-def]
    """"Keep running tonight" on a Friday lasts the weekend, and a stop lasts to Monday: the heads-up says when the
    schedule starts them again, in the schedule's time zone."""
    from bot.render.schedule_blocks import heads_up_text

    world.use_cases.schedules.run(utc(2026, 12, 4, 18, 30))  # Friday 4 December, 19:30 in Berlin
    ((_, view),) = world.schedule_notifier.heads_ups
    assert heads_up_text(view) == (":crescent_moon: *office-hours* stops 3 of team-ml's resources at 20:00 "
                                   "(Europe/Berlin) on Fri 04 Dec; the schedule starts them again at 08:00 on Mon 07 "
                                   "Dec")
    world.use_cases.schedules.run(utc(2026, 12, 4, 19, 0))  # the stop: its report names Monday's start too
    from bot.render.schedule_blocks import night_report_blocks

    ((_, report),) = world.schedule_notifier.reports
    assert report.stopped and night_report_blocks(report)[-1].elements[0].text == (
        "The schedule starts these again at 08:00 on Mon 07 Dec (only these).")


def test_skip_this_week_is_audited_even_when_tonight_was_already_kept(world) -> None:  # type: ignore[no-untyped-def]
    """Everything kept tonight, then *Skip this week*: the skip still holds the rest of the week, so it is in the
    audit for each resource it covers."""
    svc = world.use_cases.schedules
    svc.run(utc(2026, 12, 1, 18, 30))
    ((_, view),) = world.schedule_notifier.heads_ups
    assert svc.keep(view.event_id, "U0MEMBER1").changed == ("busy", "dev-a", "dev-b")
    assert svc.skip_week(view.event_id, "U0ML00001").changed == ()
    skips = [(e.actor, e.resource_key) for e in world.action_store.audit(50) if e.action == "skip-week"]
    assert sorted(skips) == sorted(("U0ML00001", world.keys[n]) for n in ("busy", "dev-a", "dev-b"))
    assert svc.skip_week(view.event_id, "U0ADMIN01").changed == ()  # a second skip: nothing new, no new rows
    assert len([e for e in world.action_store.audit(50) if e.action == "skip-week"]) == 3
    assert {s.outcome for s in svc.run(utc(2026, 12, 2, 19, 0))} == {"skipped: the week skipped by <@U0ML00001>"}
