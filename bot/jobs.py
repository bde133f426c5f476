"""The scheduler: APScheduler 3 with its SQLAlchemy job store on the app-state database.

Only one scheduler is ever active: each instance competes for a database lease and runs jobs only while it
holds it (a second instance waits, and takes over when the first stops renewing). Digests run on a thread
pool, so one slow or failing digest never blocks the others; a failure is retried with backoff, and the
digest-run guard in the state store makes a digest post once even if two schedulers raced.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.domain.subscriptions import Subscription

if TYPE_CHECKING:
    from bot.app import Services

log = logging.getLogger("costbot.scheduler")

LEASE_NAME = "scheduler"
DEFAULT_GRACE = timedelta(hours=2)
RETRY_BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15))
JOB_PREFIX = "digest-"

# Job functions are stored by reference; they find the running services here.
_services: Services | None = None


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


def run_scan_job() -> None:
    services = _services
    if services is None or not services.config.providers:
        return
    services.scanner.scan(post=services.slack_client is not None)


def run_sync_job() -> None:
    services = _services
    if services is None or not services.config.sources:
        return
    services.sync.sync()


def run_insights_job() -> None:
    """Budget thresholds and yesterday's anomalies: each alert posts once (state-store guards)."""
    services = _services
    if services is None:
        return
    services.insights.check_budgets()
    services.insights.check_anomalies()
    if services.config.enforcement:
        services.enforcement.enforce()


def run_upkeep_job() -> None:
    """Expire unanswered action requests and settle ones a crash left executing."""
    services = _services
    if services is None:
        return
    services.actions.reconcile()


def run_digest_job(subscription_id: int, run_key: str | None = None, attempt: int = 1) -> None:
    """A scheduled (or retried) digest. Module-level so the job store can keep a reference to it."""
    services = _services
    if services is None:
        raise RuntimeError("the scheduler's services are not set")
    sub = services.digests.state.subscription(subscription_id)
    if sub is None:
        return
    if run_key is None:
        fired = last_fire_time(sub, datetime.now(ZoneInfo(sub.timezone)))
        run_key = (fired or datetime.now(ZoneInfo(sub.timezone))).isoformat()
    try:
        services.digests.run(subscription_id, run_key)
    except Exception:
        if attempt > len(RETRY_BACKOFF):
            log.error("digest %s for subscription %s failed %d times; giving up", run_key, subscription_id, attempt)
            return
        when = datetime.now(ZoneInfo(sub.timezone)) + RETRY_BACKOFF[attempt - 1]
        scheduler = services.scheduler
        if scheduler is not None:
            scheduler.add_retry(subscription_id, run_key, attempt + 1, when)


class CostbotScheduler:
    def __init__(self, services: Services, holder: str | None = None, lease_ttl: timedelta = timedelta(seconds=30),
                 grace: timedelta = DEFAULT_GRACE, threads: int = 4) -> None:
        self.services = services
        self.holder = holder or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.lease_ttl = lease_ttl
        self.leading = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=services.state_engine,
                                                     tablename="apscheduler_jobs")},
            executors={"default": ThreadPoolExecutor(threads)},
            job_defaults={"coalesce": True, "misfire_grace_time": int(grace.total_seconds()), "max_instances": 1},
            timezone=ZoneInfo(services.config.timezone),
        )
        self.scheduler.add_listener(self._missed, EVENT_JOB_MISSED)

    # -- jobs -----------------------------------------------------------------------------------------
    def sync_jobs(self) -> int:
        """Make the job store match the subscriptions (config ones first synced from costbot.yml)."""
        self.services.digests.sync_config()
        subs = self.services.digests.subscriptions()
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
            self.scheduler.add_job(run_digest_job, trigger, id=job_id, args=[sub.id], replace_existing=True,
                                   name=f"digest {sub.scope or 'all'} -> {sub.channel}")
        return len(wanted)

    def _system_jobs(self) -> None:
        rules = self.services.config.rules
        if self.services.config.providers and self.scheduler.get_job("scan") is None:
            self.scheduler.add_job(run_scan_job, IntervalTrigger(hours=rules.scan_every_hours), id="scan",
                                   name="scan for idle and oversized resources", replace_existing=True)
        if self.services.config.sources and self.scheduler.get_job("sync") is None:
            self.scheduler.add_job(run_sync_job, IntervalTrigger(hours=self.services.config.sync_every_hours),
                                   id="sync", name="sync billing sources", replace_existing=True)
        if self.scheduler.get_job("insights") is None:
            self.scheduler.add_job(run_insights_job, IntervalTrigger(hours=1), id="insights",
                                   name="budget alerts and anomalies", replace_existing=True)
        if self.scheduler.get_job("upkeep") is None:
            self.scheduler.add_job(run_upkeep_job, IntervalTrigger(minutes=10), id="upkeep",
                                   name="expire and reconcile action requests", replace_existing=True)

    def add_retry(self, subscription_id: int, run_key: str, attempt: int, when: datetime) -> None:
        self.scheduler.add_job(run_digest_job, DateTrigger(when), args=[subscription_id, run_key, attempt],
                               id=f"retry-{subscription_id}-{attempt}-{uuid.uuid4().hex[:6]}",
                               misfire_grace_time=None)
        log.info("digest %s for subscription %s will be retried at %s", run_key, subscription_id, when)

    def refresh(self) -> None:
        """Pick up a subscription change now instead of at the next lease round."""
        if self.leading:
            self.sync_jobs()
            self.scheduler.wakeup()

    def _missed(self, event: JobExecutionEvent) -> None:
        log.warning("job %s was due at %s, more than the grace window ago: skipped", event.job_id,
                    event.scheduled_run_time)

    # -- leadership -----------------------------------------------------------------------------------
    def tick(self) -> bool:
        """One round of the lease: lead (sync and run jobs) or stand by. Returns whether this one leads."""
        global _services
        self._ensure_started()
        state = self.services.digests.state
        try:
            leading = state.acquire_lease(LEASE_NAME, self.holder, self.lease_ttl)
        except Exception:
            log.exception("could not reach the state database for the scheduler lease")
            leading = False
        if leading and not self.leading:
            log.info("scheduler %s is now active", self.holder)
            _services = self.services
            self.sync_jobs()
            try:  # requests a previous leader left half done are settled before anything else runs
                self.services.actions.reconcile()
            except Exception:
                log.exception("reconciling action requests failed")
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
            self.services.scheduler = self
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
        try:  # deletes only this holder's lease: harmless when another scheduler leads
            self.services.digests.state.release_lease(LEASE_NAME, self.holder)
        except Exception:
            log.exception("could not release the scheduler lease; another scheduler takes over when it expires")
        else:
            if was_leading:
                log.info("scheduler %s released the lease", self.holder)
        return finished

    def jobs(self) -> list[Any]:
        return list(self.scheduler.get_jobs())
