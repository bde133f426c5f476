"""Property: every `/cost` text ends in an answer or in a CostbotError, which the user sees with its own message,
never in the generic "something went wrong" reply. Through the chain the Slack handler runs (parse, service,
Block Kit with slack_sdk models, serialized as Bolt does) on the demo store, and a sample through the real bot
over HTTP."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_bolt.util.utils import convert_to_dict_list

from bot.app import Application
from bot.config import Settings
from bot.domain.errors import CostbotError
from bot.domain.query import Query
from bot.render.common import error_blocks
from bot.render.json_out import answer_to_json
from bot.words import answer_in_terminal
from handlers.commands import dispatch
from tests.conftest import TODAY, CliResult
from tests.fuzz_texts import REGRESSION_TEXTS, command_texts, cost_texts, query_texts, sample_texts
from tests.integration.conftest import SECRET, RunningBot
from tests.signing import command_body, post
from tests.slack_stub import SlackStub

#: an approver of team-ml, an admin, and someone in no team
USERS = ("U0ML00001", "U0ADMIN01", "UNOBODY")


@pytest.fixture(scope="module")
def services(demo_store: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Application]:
    state = tmp_path_factory.mktemp("fuzz-state") / "state.db"
    built = Application(Settings({"COSTBOT_DATA_DIR": str(demo_store[0]), "COSTBOT_TODAY": TODAY,
                                  "DATABASE_URL": f"sqlite:///{state}"}))
    yield built
    built.close()


@pytest.fixture
def pg_services(demo_store: tuple[Path, Path], pg_url: str) -> Iterator[Application]:
    """App state on PostgreSQL, which, unlike SQLite, enforces column lengths."""
    built = Application(Settings({"COSTBOT_DATA_DIR": str(demo_store[0]), "COSTBOT_TODAY": TODAY,
                                  "DATABASE_URL": pg_url}))
    yield built
    built.state.engine.dispose()
    built.close()


def run_command(services: Application, text: str, user: str) -> list[dict[str, Any]]:
    """What the user would see: each message's serialized blocks, or the CostbotError's message."""
    shown: list[dict[str, Any]] = []

    def respond(**message: Any) -> None:
        shown.append({"text": message["text"], "blocks": convert_to_dict_list(message["blocks"])})

    try:
        dispatch(services.use_cases, services.config, text, user, "C0FUZZ001", respond)
    except CostbotError as exc:
        assert str(exc)
        shown.append({"text": str(exc), "blocks": convert_to_dict_list(error_blocks(exc))})
    return shown


@settings(max_examples=400, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=st.one_of(cost_texts, query_texts, query_texts, command_texts), user=st.sampled_from(USERS))
def test_every_text_ends_in_an_answer_or_a_costbot_error(services: Application, text: str, user: str) -> None:
    assert run_command(services, text, user)


@settings(max_examples=200, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=st.one_of(query_texts, command_texts), user=st.sampled_from(USERS))
def test_every_text_with_state_on_postgresql(pg_services: Application, text: str, user: str) -> None:
    assert run_command(pg_services, text, user)


@pytest.mark.parametrize(("text", "message"), [
    ("digest subscribe project:" + "x" * 600 + " daily", "a scope is at most 500 characters"),
    ("budget set project:" + "x" * 600 + " 5", "a scope is at most 500 characters"),
    ("digest subscribe team-ml cron 0 " + ",".join(str(h) for h in range(24)) + " " +
     ",".join(str(d) for d in range(1, 32)) + " * *", "a cron expression is at most 100 characters"),
])
def test_what_the_state_database_cannot_hold_is_refused(pg_services: Application, text: str, message: str) -> None:
    (shown,) = run_command(pg_services, text, "U0ADMIN01")
    assert shown["text"] == message


def test_a_long_scope_is_refused_or_clipped_in_the_confirmation(services: Application) -> None:
    (refused,) = run_command(services, f"digest subscribe project:{'x' * 3100} daily", "U0ML00001")
    assert refused["text"] == "a scope is at most 500 characters"
    scope = "project:" + "x" * 490
    (shown,) = run_command(services, f"digest subscribe {scope} daily", "U0ML00001")
    text = shown["blocks"][0]["text"]["text"]
    assert text == f":white_check_mark: <#C0FUZZ001> gets the *project:{'x' * 191}…* digest daily at 09:00 (UTC)."
    kept = services.use_cases.digests.subscriptions("C0FUZZ001")
    assert [s.scope for s in kept if s.scope.startswith("project:x")] == [scope]


OUT_OF_RANGE = "is out of range: dates run from 1970-01-01 to 2999-12-31"


@settings(max_examples=300, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=st.one_of(cost_texts, query_texts))
def test_every_text_through_costbot_ask_ends_in_an_answer_or_a_costbot_error(services: Application, text: str) -> None:
    """`costbot ask` runs this chain; main() turns a CostbotError into a message and an exit code."""
    from rich.console import Console

    try:
        word, result, parsed = answer_in_terminal(services.use_cases, services.config, text)
    except CostbotError as exc:
        assert str(exc)
        return
    Console(file=io.StringIO(), width=100).print(word.terminal(result, services.config))
    if isinstance(parsed, Query):
        json.dumps(answer_to_json(result))


def test_terminal_shows_tag_values_as_text_not_markup(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    billing = tmp_path / "focus.csv"
    billing.write_text('ChargePeriodStart,EffectiveCost,BilledCost,ServiceName,Tags\n'
                       '2026-11-20,12.50,12.50,Amazon S3,"{""project"": ""[/oops]""}"\n'
                       '2026-11-21,7.25,7.25,Amazon S3,"{""project"": ""[bold]x""}"\n')
    assert cli("ingest", str(billing)).code == 0
    result = cli("ask", "last-week by project")
    assert result.code == 0, result.err
    assert "[/oops]" in result.out and "$12.50" in result.out
    assert "[bold]x" in result.out and "$7.25" in result.out


@pytest.mark.parametrize(("text", "message"), [
    ("0000-01", f"'0000-01' {OUT_OF_RANGE}"),
    ("10000-01", f"'10000-01' {OUT_OF_RANGE}"),
    ("9999-12-31", f"'9999-12-31' {OUT_OF_RANGE}"),
    ("0001-01-01", f"'0001-01-01' {OUT_OF_RANGE}"),
    ("9999-q4", f"'9999-q4' {OUT_OF_RANGE}"),
    ("tags 0000-01", f"'0000-01' {OUT_OF_RANGE}"),
    ("team-ml 0001-01-01..9999-12-31 by day", f"'0001-01-01..9999-12-31' {OUT_OF_RANGE}"),
    ("top ²", "'top' needs a number (digits 0-9), e.g. `top 5`"),
    ("audit ²", "`audit` takes a number from 1 to 100, e.g. `audit 20`"),
    ("budget set team-ml 1e999999", "'1e999999' is too large: amounts go up to 1,000,000,000,000"),
    ("budget set team-ml 25000.005", "'25000.005' has more than two decimal places (whole cents only)"),
])
def test_each_reviewed_case_gets_its_own_error(services: Application, text: str, message: str) -> None:
    assert [shown["text"] for shown in run_command(services, text, "U0ADMIN01")] == [message]


def test_no_reply_over_http_is_the_generic_error(bot: RunningBot, stub: SlackStub) -> None:
    texts = [*REGRESSION_TEXTS, *sample_texts(60, seed=20261128)]
    for i, text in enumerate(texts):
        status, _ = post(bot.events_url, command_body(text, stub.response_url(f"f{i}"), user_id=USERS[i % 3]),
                         SECRET)
        assert status == 200
    stub.wait_for(lambda calls: {c.name for c in calls if c.kind == "response"} >= {f"f{i}" for i in
                                                                                       range(len(texts))},
                  timeout=120)
    for i, text in enumerate(texts):
        for reply in stub.responses(f"f{i}"):
            assert "Something went wrong" not in reply.args["text"], text
