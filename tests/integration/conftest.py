"""A real bot in HTTP mode on a real port, talking to the Slack stub, over a demo store."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot.app import Services, build_services, build_slack_app, health
from bot.config import Settings
from bot.demo import write_demo_csv
from bot.web import CostbotWsgi, make_server
from tests.conftest import TODAY
from tests.slack_stub import SlackStub

SECRET = "test-signing-secret-0123456789"


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A data dir with the demo store, and the demo CSV (for independent expectations)."""
    root = tmp_path_factory.mktemp("slackdemo")
    data = root / "data"
    csv_path = data / "demo" / "focus-demo.csv"
    write_demo_csv(csv_path, date.fromisoformat(TODAY))
    settings = Settings({"COSTBOT_DATA_DIR": str(data), "COSTBOT_TODAY": TODAY})
    services = build_services(settings)
    services.ingest.ingest([csv_path], source="demo")
    services.costs.store.close()  # type: ignore[attr-defined]
    return data, csv_path


@dataclass
class RunningBot:
    url: str
    stub: SlackStub
    services: Services
    slack: Any

    @property
    def events_url(self) -> str:
        return self.url + "/slack/events"


@pytest.fixture(scope="module")
def bot(demo_store: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBot]:
    stub = SlackStub().start()
    state = tmp_path_factory.mktemp("state") / "state.db"
    env = {
        "DATABASE_URL": f"sqlite:///{state}",
        "COSTBOT_DATA_DIR": str(demo_store[0]),
        "COSTBOT_TODAY": TODAY,
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": stub.api_url,
    }
    services = build_services(Settings(env))
    slack = build_slack_app(services)
    server = make_server(CostbotWsgi(slack, lambda: health(services)), "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield RunningBot(f"http://127.0.0.1:{server.effective_port}", stub, services, slack)
    finally:
        server.close()
        stub.stop()
        services.costs.store.close()  # type: ignore[attr-defined]


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database on the local server, dropped afterwards."""
    import uuid

    psycopg = pytest.importorskip("psycopg")
    admin = "postgresql://postgres@127.0.0.1:5432/test"
    try:
        conn = psycopg.connect(admin, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable at 127.0.0.1:5432: {exc}")
    name = f"costbot_test_{uuid.uuid4().hex[:10]}"
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def stub(bot: RunningBot) -> SlackStub:
    bot.stub.reset()
    return bot.stub
