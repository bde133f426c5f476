"""The scheduler: an entry point beside the Slack handlers. APScheduler 3 runs the jobs; they call the same
use cases as Slack and the CLI.

Only one scheduler is ever active: each instance competes for a database lease and runs jobs only while it
holds it (a second instance waits, and takes over when the first stops renewing or hands the lease over).
The jobs are derived, not stored: digests from the subscriptions in the state database, the rest from the
config, rebuilt by the active scheduler at each round of the lease (every ten seconds). What survives a
restart lives in the state database: each digest's run is recorded per scheduled time, so a digest posts once
even if two schedulers raced, and on taking the lead a scheduler posts the digests that came due while none
was active — at most two hours late, else skipped with a log line. A failing digest is retried with backoff.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot import telemetry
from bot.config import CostbotConfig
from bot.domain.subscriptions import Subscription
from bot.ports import LeaseStore
from bot.services.container import UseCases

log = logging.getLogger("costbot.scheduler")

LEASE_NAME = "scheduler"
DEFAULT_GRACE = timedelta(hours=2)
RETRY_BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15))
JOB_PREFIX = "digest-"
#: interval jobs run at fixed times (multiples of their interval from this instant, UTC), whoever leads: a new
#: leader keeps the rhythm, and `costbot status` can say when each runs next without asking the leader
ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)
SCHEDULE_MINUTES = 5  # how often off-hours schedules are evaluated (each event happens once, whoever runs it)


def system_jobs(config: CostbotConfig, has_sources: bool) -> list[tuple[str, str, IntervalTrigger]]:
    """(job id, what it does, trigger) of the jobs the config calls for besides digests."""
    jobs = [
        ("insights", "budget alerts and anomalies", IntervalTrigger(hours=1, start_date=ANCHOR + timedelta(minutes=5))),
        ("upkeep", "expire and reconcile action requests", IntervalTrigger(minutes=10, start_date=ANCHOR)),
    ]
    if config.providers:
        jobs.append(("scan", "scan for idle and oversized resources",
                     IntervalTrigger(hours=config.rules.scan_every_hours, start_date=ANCHOR + timedelta(minutes=15))))
    if config.providers and config.schedules:
        jobs.append(("schedules", "off-hours schedules: heads-ups, stops and starts",
                     IntervalTrigger(minutes=SCHEDULE_MINUTES, start_date=ANCHOR)))
    if has_sources:
        jobs.append(("sync", "sync billing sources", IntervalTrigger(hours=config.sync_every_hours, start_date=ANCHOR)))
    return jobs


def planned_runs(config: CostbotConfig, subscriptions: list[Subscription], has_sources: bool,
                 now: datetime) -> list[tuple[str, str, datetime | None]]:
    """(job id, what, next run) of every job an active scheduler runs, soonest first."""
    runs = [(job_id, name, trigger.get_next_fire_time(None, now)) for job_id, name, trigger in
            system_jobs(config, has_sources)]
    runs += [(f"{JOB_PREFIX}{s.id}", f"digest {s.scope or 'all'} -> {s.channel}",
              trigger_for(s).get_next_fire_time(None, now)) for s in subscriptions]
    return sorted(runs, key=lambda r: (r[2] is None, r[2] or now, r[0]))


def trigger_for(sub: Subscription) -> CronTrigger:
    return CronTrigger.from_crontab(sub.cron, timezone=ZoneInfo(sub.timezone))


def last_fire_time(sub: Subscription, now: datetime) -> datetime | None:
    """The most recent scheduled time at or before `now`: the digest's identity for the post-once guard."""
    trigger = trigger_for(sub)
    probe = now - timedelta(days=32)
    last = None
    fire = trigger.get_next_fire_time(None, probe)
    while fire is not None and fire <= now:
        last = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return last


class CostbotScheduler:
    def __init__(self, use_cases: UseCases, leases: LeaseStore, config: CostbotConfig, holder: str | None = None,
                 lease_ttl: timedelta = timedelta(seconds=30), grace: timedelta = DEFAULT_GRACE,
                 threads: int = 4) -> None:
        self.use_cases = use_cases
        self.leases = leases
        self.config = config
        self.holder = holder or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.lease_ttl = lease_ttl
        self.grace = grace
        self.leading = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(threads)},
            job_defaults={"coalesce": True, "misfire_grace_time": int(grace.total_seconds()), "max_instances": 1},
            timezone=ZoneInfo(config.timezone),
        )
        self.scheduler.add_listener(self._missed, EVENT_JOB_MISSED)

    # -- the jobs --------------------------------------------------------------------------------------------
    def run_digest(self, subscription_id: int, run_key: str | None = None, attempt: int = 1) -> None:
        """A scheduled (or retried, or caught-up) digest: posted once per scheduled time."""
        sub = self.use_cases.digests.subscription(subscription_id)
        if sub is None:
            return
        now = datetime.now(ZoneInfo(sub.timezone))
        if run_key is None:
            run_key = (last_fire_time(sub, now) or now).isoformat()
        try:
            with telemetry.job_run("digest", f"subscription {subscription_id}, {run_key}, attempt {attempt}"):
                self.use_cases.digests.run(subscription_id, run_key)
        except Exception:
            if attempt > len(RETRY_BACKOFF):
                log.error("digest %s for subscription %s failed %d times; giving up", run_key, subscription_id,
                          attempt)
                return
            self.add_retry(subscription_id, run_key, attempt + 1, now + RETRY_BACKOFF[attempt - 1])

    def run_scan(self) -> None:
        with telemetry.job_run("scan"):
            self.use_cases.scans.scan(post=True)

    def run_sync(self) -> None:
        with telemetry.job_run("sync"):
            results = self.use_cases.sync.sync()
            failed = [r.name for r in results if not r.ok]
            if failed:
                raise RuntimeError(f"sources failed: {', '.join(failed)}")

    def run_insights(self) -> None:
        """Budget thresholds and the anomalies of every day since the last check (each alert posts once, none older
        than `anomalies.alert_horizon_days`), then budget enforcement."""
        with telemetry.job_run("insights"):
            self.use_cases.budgets.check_budgets()
            self.use_cases.anomalies.check_anomalies()
            if self.config.enforcement:
                self.use_cases.enforcement.enforce()

    def run_schedules(self) -> None:
        """Off-hours schedules: whatever heads-up, stop or start is due (each once per schedule, day and team)."""
        with telemetry.job_run("schedules"):
            self.use_cases.schedules.run()

    def run_upkeep(self) -> None:
        """Expire unanswered action requests, settle abandoned ones, tell approvers Slack missed."""
        with telemetry.job_run("upkeep"):
            self.use_cases.actions.reconcile()

    # -- keeping the jobs in step with the subscriptions and the config -------------------------------------------
    def sync_jobs(self) -> int:
        """Make the scheduler's jobs match the subscriptions (config ones first synced from costbot.yml)."""
        self.use_cases.digests.sync_config()
        subs = self.use_cases.digests.subscriptions()
        wanted = {f"{JOB_PREFIX}{s.id}": s for s in subs}
        for job in self.scheduler.get_jobs():
            if job.id.startswith(JOB_PREFIX) and job.id not in wanted:
                job.remove()
        self._system_jobs()
        for job_id, sub in wanted.items():
            existing = self.scheduler.get_job(job_id)
            trigger = trigger_for(sub)
            if existing is not None and str(existing.trigger) == str(trigger):
                continue
            self.scheduler.add_job(self.run_digest, trigger, id=job_id, args=[sub.id], replace_existing=True,
                                   name=f"digest {sub.scope or 'all'} -> {sub.channel}")
        return len(wanted)

    def _system_jobs(self) -> None:
        methods: dict[str, Any] = {"insights": self.run_insights, "upkeep": self.run_upkeep, "scan": self.run_scan,
                                   "sync": self.run_sync, "schedules": self.run_schedules}
        for job_id, name, trigger in system_jobs(self.config, bool(self.use_cases.sync.sources)):
            if self.scheduler.get_job(job_id) is None:
                self.scheduler.add_job(methods[job_id], trigger, id=job_id, name=name, replace_existing=True)

    def catch_up(self, now: datetime | None = None) -> list[str]:
        """Digests that came due while no scheduler was active: posted now when at most `grace` late (and not
        posted yet), else skipped with a log line. Only times after the subscription was made count."""
        caught = []
        for sub in self.use_cases.digests.subscriptions():
            current = now or datetime.now(ZoneInfo(sub.timezone))
            fired = last_fire_time(sub, current)
            if fired is None or (sub.created_at is not None and fired < sub.created_at):
                continue
            run_key = fired.isoformat()
            if self.use_cases.digests.run_status(sub.id or 0, run_key) is not None:
                continue
            if current - fired <= self.grace:
                self.scheduler.add_job(self.run_digest, DateTrigger(current), args=[sub.id, run_key],
                                       id=f"catch-up-{sub.id}-{uuid.uuid4().hex[:6]}", misfire_grace_time=None)
                caught.append(run_key)
            else:
                log.warning("digest %s%s was due at %s, more than the grace window ago: skipped", JOB_PREFIX, sub.id,
                            run_key)
        return caught

    def add_retry(self, subscription_id: int, run_key: str, attempt: int, when: datetime) -> None:
        self.scheduler.add_job(self.run_digest, DateTrigger(when), args=[subscription_id, run_key, attempt],
                               id=f"retry-{subscription_id}-{attempt}-{uuid.uuid4().hex[:6]}",
                               misfire_grace_time=None)
        log.info("digest %s for subscription %s will be retried at %s", run_key, subscription_id, when)

    def _missed(self, event: JobExecutionEvent) -> None:
        log.warning("job %s was due at %s, more than the grace window ago: skipped", event.job_id,
                    event.scheduled_run_time)

    # -- leadership -----------------------------------------------------------------------------------
    def tick(self) -> bool:
        """One round of the lease: lead (sync and run jobs) or stand by. Returns whether this one leads."""
        self._ensure_started()
        try:
            leading = self.leases.acquire_lease(LEASE_NAME, self.holder, self.lease_ttl)
        except Exception:
            log.exception("could not reach the state database for the scheduler lease")
            leading = False
        telemetry.SCHEDULER_LEADER.set(1 if leading else 0)
        if leading and not self.leading:
            log.info("scheduler %s is now active", self.holder)
            self.sync_jobs()
            try:  # requests a previous leader left half done are settled before anything else runs
                self.use_cases.actions.reconcile()
            except Exception:
                log.exception("reconciling action requests failed")
            self.catch_up()
            self.scheduler.resume()
        elif leading:
            self.sync_jobs()
            self.scheduler.wakeup()
        elif self.leading:
            log.warning("scheduler %s lost the lease; standing by", self.holder)
            self.scheduler.pause()
        self.leading = leading
        return leading

    def _ensure_started(self) -> None:
        """APScheduler runs from the start, paused: jobs are only processed while this instance leads."""
        if not self.scheduler.running:
            self.scheduler.start(paused=True)

    def start(self, block: bool = False) -> None:
        self._ensure_started()
        self._thread = threading.Thread(target=self._loop, name="costbot-lease", daemon=True)
        self._thread.start()
        if block:
            self._stop.wait()

    def _loop(self) -> None:
        interval = self.lease_ttl.total_seconds() / 3
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(interval)

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop taking jobs, let running ones finish for up to `timeout` seconds, then release the lease so
        another scheduler leads at once. Returns whether every running job finished."""
        deadline = time.monotonic() + timeout
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(0.0, deadline - time.monotonic()))
        finished = True
        if self.scheduler.running:
            # shutdown(wait=True) takes no timeout: wait for it on a helper thread, for as long as allowed
            waiter = threading.Thread(target=self.scheduler.shutdown, kwargs={"wait": True},
                                      name="costbot-scheduler-drain", daemon=True)
            waiter.start()
            waiter.join(timeout=max(0.0, deadline - time.monotonic()))
            finished = not waiter.is_alive()
            if not finished:
                log.warning("scheduler jobs still running after %.0f s: left to the next active scheduler", timeout)
        was_leading, self.leading = self.leading, False
        telemetry.SCHEDULER_LEADER.set(0)
        try:  # deletes only this holder's lease: harmless when another scheduler leads
            self.leases.release_lease(LEASE_NAME, self.holder)
        except Exception:
            log.exception("could not release the scheduler lease; another scheduler takes over when it expires")
        else:
            if was_leading:
                log.info("scheduler %s released the lease", self.holder)
        return finished

    def jobs(self) -> list[Any]:
        return list(self.scheduler.get_jobs())
