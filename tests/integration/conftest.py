"""A real bot in HTTP mode on a real port, talking to the Slack stub, over a demo store."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot.app import Application
from bot.config import Settings
from bot.demo import write_demo_csv
from bot.services.container import UseCases
from bot.web import make_server, run_until_closed
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
    application = Application(settings)
    application.use_cases.ingest.ingest([csv_path], source="demo")
    application.close()
    return data, csv_path


@dataclass
class RunningBot:
    url: str
    stub: SlackStub
    app: Application
    slack: Any

    @property
    def services(self) -> UseCases:
        return self.app.use_cases

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
    application = Application(Settings(env))
    slack = application.slack_app()
    server = make_server(application.wsgi(slack), "127.0.0.1", 0)
    thread = threading.Thread(target=run_until_closed, args=(server,), daemon=True)
    thread.start()
    try:
        yield RunningBot(f"http://127.0.0.1:{server.effective_port}", stub, application, slack)
    finally:
        server.close()
        stub.stop()
        application.close()


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


@pytest.fixture(scope="session")
def moto_server() -> Iterator[tuple[Any, str]]:
    """moto in server mode, behind a counting proxy; boto3 reaches it through AWS_ENDPOINT_URL."""
    from moto.server import ThreadedMotoServer

    from tests.aws_proxy import CountingProxy

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    proxy = CountingProxy(host, port)
    try:
        yield proxy, f"http://{host}:{port}"
    finally:
        proxy.stop()
        server.stop()


AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_SESSION_TOKEN": "testing"}


@pytest.fixture(scope="module")
def aws_env(moto_server: tuple[Any, str]) -> Iterator[Any]:
    """Point boto3 at the proxy for this module (os.environ: the bot's threads read it too)."""
    import os

    proxy, _ = moto_server
    wanted = {**AWS_ENV, "AWS_ENDPOINT_URL": proxy.url}
    saved = {k: os.environ.get(k) for k in [*wanted, "AWS_PROFILE"]}
    os.environ.update(wanted)
    os.environ.pop("AWS_PROFILE", None)
    try:
        yield proxy
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def aws(aws_env: Any, moto_server: tuple[Any, str]) -> Any:
    """A fresh moto account for each test."""
    import urllib.request

    _, direct = moto_server
    urllib.request.urlopen(urllib.request.Request(f"{direct}/moto-api/reset", method="POST"), timeout=10).read()
    aws_env.reset()
    return aws_env


# -- cost checks (costbot estimate, guard): a store with known daily costs and budgets ----------------------------
APPROVER, MEMBER = "U0ML00001", "U0MEMBER1"
ESTIMATE_CONFIG: dict[str, Any] = {
    "teams": {
        "team-ml": {"tags": {"team": "ml"}, "channel": "#team-ml", "members": [MEMBER], "approvers": [APPROVER],
                    "budget": {"monthly": 10000}},
        "team-vision": {"tags": {"team": "vision"}, "channel": "#team-vision", "budget": {"monthly": 2000}},
        "team-data": {"tags": {"team": "data"}, "budget": {"monthly": 1000}},
    },
    "admins": ["U0ADMIN01"],
    "estimate": {"prices": "bundled", "approval_families": ["p5"]},
}


def known_billing(folder: Path) -> Path:
    """team ml $100 a day, vision $50, data $20, from October 1 through yesterday (TODAY is 2026-11-28): each
    team's month to date is 27 days of it and its forecast 30 days (ml: $2,700 and $3,000)."""
    from tests.billing import daily, write_focus

    start, end = date(2026, 10, 1), date.fromisoformat(TODAY)
    return write_focus(folder / "billing.csv", [
        *daily(start, end, "100", tags={"team": "ml"}, resource="i-0ml"),
        *daily(start, end, "50", tags={"team": "vision"}, resource="i-0vision"),
        *daily(start, end, "20", tags={"team": "data"}, resource="i-0data"),
    ])


@pytest.fixture
def world(cli: Any, tmp_path: Path) -> Any:
    """The known billing data in the store, and a costbot.yml in the working folder: `world(**overrides)`
    rewrites it and returns the CLI runner."""
    import yaml

    assert cli("ingest", str(known_billing(tmp_path / "billing"))).code == 0

    def configure(**overrides: Any) -> Any:
        (tmp_path / "costbot.yml").write_text(yaml.safe_dump({**ESTIMATE_CONFIG, **overrides}))
        return cli

    configure()
    return configure
