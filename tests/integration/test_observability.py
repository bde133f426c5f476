"""Metrics and logs: `/metrics` (Prometheus, behind the admin token) parses with prometheus-client's own parser and
counts what happened — a slash command by word and outcome, its latency, Slack and AWS calls, jobs, actions — and
each slash command, click and job is one structured log line without the request's text or URLs. In Socket
Mode the process serves health and metrics on $PORT too, and a start logs no Alembic or Bolt noise."""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.app import Application
from bot.config import Settings
from bot.domain.actions import AuditEntry
from bot.logs import NOISE
from bot.web import make_server, run_until_closed
from tests.conftest import TODAY
from tests.integration.conftest import SECRET, RunningBot
from tests.integration.test_serve_process import free_port, running
from tests.signing import actions_body, command_body, post
from tests.slack_stub import SlackStub
from tests.socket_stub import SocketModeStub
from tests.stores import copy_store

ADMIN = "metrics-admin-token-0123456789"


@pytest.fixture
def watched_bot(demo_store: tuple[Path, Path], tmp_path: Path) -> Iterator[RunningBot]:
    stub = SlackStub().start()
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'state.db'}", "COSTBOT_DATA_DIR": str(demo_store[0]),
           "COSTBOT_TODAY": TODAY, "SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_SIGNING_SECRET": SECRET,
           "SLACK_API_URL": stub.api_url, "COSTBOT_ADMIN_TOKEN": ADMIN}
    application = Application(Settings(env))
    slack = application.slack_app()
    server = make_server(application.wsgi(slack), "127.0.0.1", 0)
    threading.Thread(target=run_until_closed, args=(server,), daemon=True).start()
    try:
        yield RunningBot(f"http://127.0.0.1:{server.effective_port}", stub, application, slack)
    finally:
        server.close()
        stub.stop()
        application.close()


def scrape(url: str, token: str | None = ADMIN) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics, parsed by prometheus-client: (name, sorted labels) -> value."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url + "/metrics", headers=headers), timeout=10) as resp:
        assert resp.headers["Content-Type"].startswith("text/plain; version=")
        text = resp.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], metric: str, **labels: str) -> float:
    return samples.get((metric, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_a_slash_command_and_read_the_store(watched_bot: RunningBot,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    bot, stub = watched_bot, watched_bot.stub
    before = scrape(bot.url)
    assert value(before, "costbot_store_rows") == bot.app.queries.row_count() > 0
    assert value(before, "costbot_store_data_through_timestamp_seconds") == datetime(2026, 11, 27,
                                                                                   tzinfo=UTC).timestamp()
    caplog.set_level(logging.INFO, logger="costbot.events")
    status, _ = post(bot.events_url, command_body("team-ml last-week", stub.response_url("q")), SECRET)
    assert status == 200
    status, _ = post(bot.events_url, command_body("budget set team-ml 100", stub.response_url("r")), SECRET)
    assert status == 200  # U0ML00001 is no admin: refused with a message
    status, _ = post(bot.events_url, actions_body("costbot_share", "team-ml last-week", stub.response_url("s")),
                     SECRET)
    assert status == 200
    stub.wait_for(lambda calls: {"q", "r"} <= {c.name for c in calls}
                  and any(c.name == "chat.postMessage" for c in calls), timeout=20)
    deadline = datetime.now() + timedelta(seconds=10)
    while value(scrape(bot.url), "costbot_requests_total", kind="button", name="costbot_share",
                outcome="ok") - value(before, "costbot_requests_total", kind="button", name="costbot_share",
                                      outcome="ok") < 1 and datetime.now() < deadline:
        time.sleep(0.05)  # the click's log line and count follow its Slack post
    after = scrape(bot.url)

    def grew(metric: str, **labels: str) -> float:
        return value(after, metric, **labels) - value(before, metric, **labels)

    assert grew("costbot_requests_total", kind="command", name="/cost question", outcome="ok") == 1
    assert grew("costbot_requests_total", kind="command", name="/cost budget", outcome="refused") == 1
    assert grew("costbot_requests_total", kind="button", name="costbot_share", outcome="ok") == 1
    assert grew("costbot_answer_seconds_count", kind="command", name="/cost question") == 1
    assert grew("costbot_answer_seconds_bucket", kind="command", name="/cost question", le="+Inf") == 1
    assert grew("costbot_slack_api_calls_total", method="chat.postMessage") == 1

    lines = [r for r in caplog.records if r.name == "costbot.events"]
    question = next(r.fields for r in lines if r.fields["what"] == "/cost question")  # type: ignore[attr-defined]
    assert {k: question[k] for k in ("event", "what", "user", "outcome")} == {
        "event": "command", "what": "/cost question", "user": "U0ML00001", "outcome": "ok"}
    assert question["seconds"] >= 0
    logged = " ".join(r.getMessage() + json.dumps(getattr(r, "fields", {})) for r in caplog.records)
    for secret in ("last-week", "response", "xoxb-test-token", SECRET, "100"):
        assert secret not in logged  # no question text, response URL, token or signature


def test_metrics_are_for_the_admin_token_only(watched_bot: RunningBot, bot: RunningBot) -> None:
    with pytest.raises(urllib.error.HTTPError) as missing:
        scrape(watched_bot.url, token=None)
    assert missing.value.code == 401
    with pytest.raises(urllib.error.HTTPError) as wrong:
        scrape(watched_bot.url, token="x" * len(ADMIN))
    assert wrong.value.code == 401
    with pytest.raises(urllib.error.HTTPError) as unset:  # no COSTBOT_ADMIN_TOKEN: no such route
        scrape(bot.url)
    assert unset.value.code == 404


def test_jobs_aws_calls_and_actions_are_counted(watched_bot: RunningBot, aws: Any) -> None:
    import boto3
    from botocore.exceptions import ClientError

    from bot.adapters.state.actions_repository import SqlActionStore
    from bot.telemetry import count_aws_calls

    before = scrape(watched_bot.url)
    scheduler = watched_bot.app.scheduler(holder="metrics")
    scheduler.run_upkeep()
    ec2 = count_aws_calls(boto3.client("ec2", region_name="us-east-1"))
    ec2.describe_instances()
    with pytest.raises(ClientError):
        ec2.stop_instances(InstanceIds=["i-00000000000000000"])
    SqlActionStore(watched_bot.app.state).add_audit(AuditEntry(datetime.now(UTC), "U1", "stop", "aws|1|r|ec2|i-1",
                                                               "running", "stopped", "succeeded"))
    after = scrape(watched_bot.url)

    def grew(metric: str, **labels: str) -> float:
        return value(after, metric, **labels) - value(before, metric, **labels)

    assert grew("costbot_job_runs_total", job="upkeep", outcome="ok") == 1
    assert grew("costbot_job_seconds_count", job="upkeep") == 1
    assert grew("costbot_aws_api_calls_total", service="ec2", operation="DescribeInstances") == 1
    assert grew("costbot_aws_api_errors_total", service="ec2", operation="DescribeInstances") == 0
    assert grew("costbot_aws_api_calls_total", service="ec2", operation="StopInstances") == 1
    assert grew("costbot_aws_api_errors_total", service="ec2", operation="StopInstances") == 1
    assert grew("costbot_actions_total", action="stop", result="succeeded") == 1


def test_a_failing_job_is_counted_and_logged(watched_bot: RunningBot, caplog: pytest.LogCaptureFixture) -> None:
    from bot.telemetry import job_run

    before = scrape(watched_bot.url)
    caplog.set_level(logging.INFO, logger="costbot.events")
    with pytest.raises(RuntimeError), job_run("sync"):
        raise RuntimeError("source down")
    after = scrape(watched_bot.url)
    assert value(after, "costbot_job_runs_total", job="sync", outcome="failed") - value(
        before, "costbot_job_runs_total", job="sync", outcome="failed") == 1
    record = next(r for r in caplog.records if r.name == "costbot.events")
    assert record.levelno == logging.WARNING and record.fields["outcome"] == "failed"  # type: ignore[attr-defined]


@pytest.fixture
def process_env(demo_store: tuple[Path, Path], tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A costbot process's environment: its own copy of the store, SQLite state, Slack at a fresh stub."""
    import os

    data = tmp_path / "data"
    data.mkdir()
    copy_store(demo_store[0] / "costs.duckdb", data / "costs.duckdb")
    stub = SlackStub().start()
    env = {**os.environ, "COSTBOT_DATA_DIR": str(data), "COSTBOT_TODAY": TODAY, "PORT": str(free_port()),
           "SLACK_BOT_TOKEN": "xoxb-proc", "SLACK_API_URL": stub.api_url,
           "DATABASE_URL": f"sqlite:///{tmp_path / 'state.db'}"}
    for name in ("SLACK_SIGNING_SECRET", "COSTBOT_LOG_LEVEL"):
        env.pop(name, None)
    try:
        yield {"env": env, "stub": stub, "url": f"http://127.0.0.1:{env['PORT']}"}
    finally:
        stub.stop()


def test_socket_mode_serves_health_and_metrics_and_starts_quietly(process_env: dict[str, Any]) -> None:
    proc_env = process_env
    env, stub = proc_env["env"], proc_env["stub"]
    link = SocketModeStub().start()
    stub.socket_url = link.url
    try:
        with running(["serve", "--socket"], {**env, "SLACK_APP_TOKEN": "xapp-proc",
                                             "COSTBOT_ADMIN_TOKEN": ADMIN}) as proc:
            proc.wait_for_log("health and metrics on")
            assert link.connected.wait(15)
            with urllib.request.urlopen(proc_env["url"] + "/healthz", timeout=5) as resp:
                assert json.loads(resp.read()) == {"status": "ok"}
            samples = scrape(proc_env["url"])
            assert value(samples, "costbot_store_rows") > 0
            proc.wait_for_log("is now active")
            assert value(scrape(proc_env["url"]), "costbot_scheduler_leader") == 1
            code, _ = proc.stop(signal.SIGTERM)
    finally:
        link.stop()
    assert code == 0, proc.err[-3000:]
    messages = proc.messages()
    assert not [m for m in messages if m in NOISE]
    assert not [line for line in proc.lines if '"logger": "alembic' in line or '"logger": "apscheduler' in line]
    assert any(m.startswith("state database schema migrated from empty to ") for m in messages)


def test_the_bolt_warning_we_silence_is_bolts_own_text() -> None:
    from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped

    assert warning_client_prioritized_and_token_skipped() in NOISE
