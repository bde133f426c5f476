"""What an operator watches: Prometheus metrics and one structured log line per slash command, button, event
and job.

The metrics are process-wide, as Prometheus scrapes a process: they live in this module's own registry (not
prometheus-client's global one), and every part of costbot that does something worth counting records it here —
the Slack listeners (handlers/errors.py `reported`), the scheduler's jobs, the Slack Web API client, each
boto3 client, the action audit. Figures read from the store at scrape time (rows, data through) come from a
collector the composition root adds (`StoreCollector`).

A log line names who (a Slack user id), what (the `/cost` word, the button's action id, the job), how long and
the outcome — never tokens, signatures, request bodies, the question's text or response URLs.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger("costbot.events")

REGISTRY = CollectorRegistry(auto_describe=True)
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)

REQUESTS = Counter("costbot_requests", "Slash commands, button clicks and events handled, by what and outcome "
                   "(ok, refused: a message for the user, error: costbot's fault)",
                   ["kind", "name", "outcome"], registry=REGISTRY)
ANSWER_SECONDS = Histogram("costbot_answer_seconds", "Time from a request's ack to its answer sent",
                           ["kind", "name"], buckets=LATENCY_BUCKETS, registry=REGISTRY)
SLACK_CALLS = Counter("costbot_slack_api_calls", "Slack Web API calls, by method", ["method"], registry=REGISTRY)
SLACK_ERRORS = Counter("costbot_slack_api_errors", "Slack Web API calls that failed after retries, by method",
                       ["method"], registry=REGISTRY)
AWS_CALLS = Counter("costbot_aws_api_calls", "AWS API calls, by service and operation", ["service", "operation"],
                    registry=REGISTRY)
AWS_ERRORS = Counter("costbot_aws_api_errors", "AWS API calls that failed, by service and operation",
                     ["service", "operation"], registry=REGISTRY)
JOB_RUNS = Counter("costbot_job_runs", "Scheduled job runs, by job and outcome (ok, failed)", ["job", "outcome"],
                   registry=REGISTRY)
JOB_SECONDS = Histogram("costbot_job_seconds", "Scheduled job run time", ["job"],
                        buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600), registry=REGISTRY)
ACTIONS = Counter("costbot_actions", "Audited actions, by action (stop, resize, undo, snooze, …) and result",
                  ["action", "result"], registry=REGISTRY)
SCHEDULER_LEADER = Gauge("costbot_scheduler_leader", "1 while this process's scheduler holds the lease",
                         registry=REGISTRY)

_DIGITS = re.compile(r"_\d+$")


# -- Slack requests ---------------------------------------------------------------------------------------------
def describe_request(body: dict[str, Any], words: frozenset[str]) -> tuple[str, str, str]:
    """(kind, name, user) of a Slack payload, with a bounded set of names: `/cost WORD` for a subcommand and
    `/cost question` for anything else typed; a button's action id; an event's type."""
    if body.get("command"):
        first = str(body.get("text") or "").strip().split(" ", 1)[0].lower()
        word = first if first in words else ("question" if first else "default")
        return "command", f"{str(body['command'])[:20]} {word}", str(body.get("user_id") or "")
    user = body.get("user") or {}
    user_id = str(user.get("id") or "") if isinstance(user, dict) else str(user)
    if body.get("type") == "block_actions":
        actions = body.get("actions") or [{}]
        return "button", _DIGITS.sub("", str(actions[0].get("action_id") or "unknown"))[:60], user_id
    event = body.get("event")
    if isinstance(event, dict):
        return "event", str(event.get("type") or "unknown")[:60], str(event.get("user") or "")
    return str(body.get("type") or "unknown")[:40], str(body.get("type") or "unknown")[:40], user_id


def request_handled(kind: str, name: str, user: str, outcome: str, seconds: float) -> None:
    REQUESTS.labels(kind, name, outcome).inc()
    ANSWER_SECONDS.labels(kind, name).observe(seconds)
    log.info("%s %s by %s: %s in %.3f s", kind, name, user or "-", outcome, seconds,
             extra={"fields": {"event": kind, "what": name, "user": user or None, "outcome": outcome,
                               "seconds": round(seconds, 3)}})


# -- jobs -------------------------------------------------------------------------------------------------------
@contextmanager
def job_run(job: str, detail: str = "") -> Iterator[None]:
    """Counts and logs one run of a scheduled job; an exception is recorded as `failed` and raised again."""
    started = time.monotonic()
    outcome = "failed"
    try:
        yield
        outcome = "ok"
    finally:
        seconds = time.monotonic() - started
        JOB_RUNS.labels(job, outcome).inc()
        JOB_SECONDS.labels(job).observe(seconds)
        log.log(logging.INFO if outcome == "ok" else logging.WARNING, "job %s%s: %s in %.3f s", job,
                f" ({detail})" if detail else "", outcome, seconds,
                extra={"fields": {"event": "job", "what": job, "detail": detail or None, "outcome": outcome,
                                  "seconds": round(seconds, 3)}})


# -- outside calls ----------------------------------------------------------------------------------------------
def slack_call(method: str, call: Callable[[], Any]) -> Any:
    """Counts one Web API call (retries included in it) and whether it failed."""
    SLACK_CALLS.labels(method).inc()
    try:
        return call()
    except Exception:
        SLACK_ERRORS.labels(method).inc()
        raise


def count_aws_calls(client: Any) -> Any:
    """Counts each API call of a boto3 client, and the failed ones (an error answer or no answer)."""
    events = client.meta.events

    def names(event_name: str) -> tuple[str, str]:
        parts = event_name.split(".")
        return (parts[1], parts[2]) if len(parts) >= 3 else ("unknown", "unknown")

    def before(event_name: str, **_: Any) -> None:
        AWS_CALLS.labels(*names(event_name)).inc()

    def after(event_name: str, http_response: Any = None, **_: Any) -> None:
        if http_response is not None and getattr(http_response, "status_code", 200) >= 300:
            AWS_ERRORS.labels(*names(event_name)).inc()

    def after_error(event_name: str, **_: Any) -> None:
        AWS_ERRORS.labels(*names(event_name)).inc()

    events.register("before-call", before)
    events.register("after-call", after)
    events.register("after-call-error", after_error)
    return client


def action_audited(action: str, result: str) -> None:
    ACTIONS.labels(action[:20], result[:20]).inc()


# -- exposition ---------------------------------------------------------------------------------------------------
class StoreCollector(Collector):
    """Store rows and data freshness, read when Prometheus scrapes (a failing store shows as absent figures)."""

    def __init__(self, rows: Callable[[], int], data_through: Callable[[], date | None]) -> None:
        self.rows = rows
        self.data_through = data_through

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            rows, through = self.rows(), self.data_through()
        except Exception as exc:
            logging.getLogger("costbot.metrics").warning("store figures unavailable for metrics: %s",
                                                         type(exc).__name__)
            return
        yield GaugeMetricFamily("costbot_store_rows", "Billing line items in the cost store", value=rows)
        if through is not None:
            midnight = datetime(through.year, through.month, through.day, tzinfo=UTC)
            yield GaugeMetricFamily("costbot_store_data_through_timestamp_seconds",
                                    "Start of the last billing day the store holds (UTC, Unix time)",
                                    value=midnight.timestamp())


def exposition(*collectors: Collector) -> tuple[bytes, str]:
    """The text exposition of the process's metrics plus `collectors`, and its content type."""
    extra = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        extra.register(collector)
    return generate_latest(REGISTRY) + generate_latest(extra), CONTENT_TYPE_LATEST
