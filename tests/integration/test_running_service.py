"""The terminal beside the service: while `costbot serve` runs on a data folder (and holds its DuckDB file),
costbot commands run as separate processes on the same folder — reads and writes — go through it; and two
`serve` processes on one PostgreSQL share the store and elect one scheduler."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import TODAY
from tests.integration.aws_world import build_world
from tests.integration.test_actions import CHANNELS, CONFIG
from tests.integration.test_serve_process import free_port, running
from tests.signing import command_body, post
from tests.slack_stub import SlackStub
from tests.stores import copy_store

SECRET = "process-secret"
EXTRA_COST = "1000.00"


def costbot(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def extra_billing(path: Path) -> Path:
    """One more day of team-ml spend inside last week, from an account the demo does not have."""
    header = ["BillingAccountId", "SubAccountId", "ProviderName", "BillingPeriodStart", "ChargePeriodStart",
              "ChargePeriodEnd", "ChargeCategory", "BilledCost", "EffectiveCost", "BillingCurrency", "ServiceName",
              "ResourceId", "Tags"]
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerow(["999900000000", "999900000001", "AWS", "2026-11-01T00:00:00Z", "2026-11-18T00:00:00Z",
                         "2026-11-19T00:00:00Z", "Usage", EXTRA_COST, EXTRA_COST, "USD", "Amazon SageMaker",
                         "extra-endpoint", json.dumps({"team": "ml"})])
    return path


def answer_over_slack(url: str, stub: SlackStub, text: str, name: str) -> str:
    status, _ = post(url + "/slack/events", command_body(text, stub.response_url(name)), SECRET)
    assert status == 200
    stub.wait_for(lambda calls: any(c.name == name for c in calls), timeout=30)
    blocks = stub.responses(name)[0].args["blocks"]
    return json.dumps(blocks)


@pytest.fixture
def service_env(demo_store: tuple[Path, Path], tmp_path: Path) -> Any:
    data = tmp_path / "data"
    data.mkdir()
    copy_store(demo_store[0] / "costs.duckdb", data / "costs.duckdb")
    stub = SlackStub().start()
    stub.channels = dict(CHANNELS)
    config = tmp_path / "costbot.yml"
    config.write_text(yaml.safe_dump(CONFIG))
    env = {**os.environ, "COSTBOT_DATA_DIR": str(data), "COSTBOT_TODAY": TODAY, "COSTBOT_CONFIG": str(config),
           "SLACK_BOT_TOKEN": "xoxb-proc", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": stub.api_url,
           "DATABASE_URL": f"sqlite:///{tmp_path / 'state.db'}", "PORT": str(free_port())}
    env.pop("SLACK_APP_TOKEN", None)
    try:
        yield env, stub, data
    finally:
        stub.stop()


def test_commands_beside_a_running_service(aws: Any, service_env: Any, tmp_path: Path) -> None:
    env, stub, data = service_env
    build_world()
    env = {**env, **{k: os.environ[k] for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                                   "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION")}}
    url = f"http://127.0.0.1:{env['PORT']}"
    with running(["serve", "--host", "127.0.0.1", "--no-scheduler"], env) as service:
        service.wait_for_log("listening on")
        assert (data / "costbot.sock").is_socket()
        assert oct((data / "costbot.sock").stat().st_mode & 0o777) == "0o600"

        asked = costbot(env, "ask", "team-ml last-week", "--json")
        assert asked.returncode == 0, asked.stderr
        assert asked.stdout and json.loads(asked.stdout)["total"] == 5403.12
        before = answer_over_slack(url, stub, "team-ml last-week", "before")
        assert "$5,403.12" in before

        ingested = costbot(env, "ingest", str(extra_billing(tmp_path / "extra.csv")), "--source", "extra")
        assert ingested.returncode == 0, ingested.stderr
        assert "1000.00" in ingested.stdout.replace(",", "") or "1,000.00" in ingested.stdout
        after = answer_over_slack(url, stub, "team-ml last-week", "after")
        assert "$6,403.12" in after  # the service answers with what the command loaded

        bad = tmp_path / "bad.csv"
        bad.write_text("ChargePeriodStart,BilledCost,EffectiveCost\n2026-11-18,12;50,1\n")
        refused = costbot(env, "ingest", str(bad))
        assert refused.returncode == 1
        assert "bad.csv, row 1, column BilledCost" in refused.stderr  # the owner's error, named the same way

        scanned = costbot(env, "scan", "--json")
        assert scanned.returncode == 0, scanned.stderr
        found = {r["name"] for r in json.loads(scanned.stdout)["recommendations"]}
        assert found == {"gpu-dev-02", "etl-big", "nb-research", "ranker-ep"}

        stub.reset()
        posted = costbot(env, "digest", "team-ml", "--post")
        assert posted.returncode == 0, posted.stderr
        uploads = stub.api_calls("files.completeUploadExternal")
        assert len(uploads) == 1 and uploads[0].args["channel_id"] == CHANNELS["team-ml"]

        budgets = costbot(env, "budgets")
        assert budgets.returncode == 0, budgets.stderr
        code, _ = service.stop(signal.SIGTERM)
    assert code == 0, service.err[-3000:]
    assert not (data / "costbot.sock").exists()  # removed on a clean stop
    alone = costbot(env, "ask", "team-ml last-week", "--json")  # no service: the command opens the file itself
    assert alone.returncode == 0 and json.loads(alone.stdout)["total"] == 6403.12
    messages = service.messages()
    assert any("store call ingest_files from a local command: ok" in m for m in messages)


def lease_holder(pg_url: str) -> str | None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(pg_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(sqlalchemy.text("SELECT holder FROM leases WHERE name = 'scheduler'")).first()
    finally:
        engine.dispose()
    return str(row[0]) if row else None


def test_two_serve_processes_share_postgresql_and_the_store(service_env: Any, pg_url: str) -> None:
    env, stub, _data = service_env
    first_env = {**env, "DATABASE_URL": pg_url}
    second_env = {**first_env, "PORT": str(free_port())}
    urls = [f"http://127.0.0.1:{e['PORT']}" for e in (first_env, second_env)]
    with running(["serve", "--host", "127.0.0.1"], first_env) as first:
        first.wait_for_log("is now active")
        first.wait_for_log("listening on")
        with running(["serve", "--host", "127.0.0.1"], second_env) as second:
            second.wait_for_log("listening on")
            second.wait_for_log("held by another costbot process")  # the store's owner is the first one
            assert "$5,403.12" in answer_over_slack(urls[0], stub, "team-ml last-week", "one")
            assert "$5,403.12" in answer_over_slack(urls[1], stub, "team-ml last-week", "two")
            time.sleep(11)  # a full lease round (ttl/3 = 10 s) for the second one
            active = [p for p in (first, second) if any("is now active" in m for m in p.messages())]
            assert active == [first]  # one scheduler leader
            holder = lease_holder(pg_url)
            assert holder is not None and f"-{first.popen.pid}-" in holder
            status = costbot(second_env, "status", "--json")
            assert status.returncode == 0, status.stderr
            report = json.loads(status.stdout)
            assert report["store"] == f"held by costbot process {first.popen.pid}, used through costbot.sock"
            assert report["scheduler"]["leader"] == holder and report["rows"] == 3717

            code, _ = first.stop(signal.SIGTERM)
            assert code == 0, first.err[-3000:]
            second.wait_for_log("is now active", timeout=20)  # the lease handed over
            assert "$5,403.12" in answer_over_slack(urls[1], stub, "team-ml last-week", "three")  # store taken over
            assert any("has stopped; looking for the store" in m for m in second.messages())
            asked = costbot(second_env, "ask", "team-ml last-week", "--json")
            assert asked.returncode == 0, asked.stderr  # and served to commands by the second one now
            holder = lease_holder(pg_url)
            assert holder is not None and f"-{second.popen.pid}-" in holder
            code, _ = second.stop(signal.SIGTERM)
            assert code == 0, second.err[-3000:]
