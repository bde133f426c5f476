"""The real bot over HTTP: signed slash commands and button clicks in, exact Slack Web API calls out."""

from __future__ import annotations

import csv
import json
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SHARED_SLACK
from tests.integration.conftest import SECRET, RunningBot
from tests.signing import actions_body, command_body, event_body, post, signature
from tests.slack_stub import SlackStub


def money(x: Decimal) -> str:
    return f"${x.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,.2f}"


def demo_total(csv_path: Path, start: str, end: str, team: str | None = None, metric: str = "EffectiveCost") -> Decimal:
    total = Decimal(0)
    with csv_path.open(newline="") as fh:
        for r in csv.DictReader(fh):
            mine = team is None or json.loads(r["Tags"]).get("team") == team
            if start <= r["ChargePeriodStart"][:10] < end and mine:
                total += Decimal(r[metric])
    return total


def texts(blocks: list[dict[str, Any]]) -> str:
    """All visible text of a block list, for assertions."""
    out: list[str] = []
    for b in blocks:
        if "text" in b and isinstance(b["text"], dict):
            out.append(b["text"]["text"])
        for e in b.get("elements", []) + b.get("fields", []):
            if isinstance(e.get("text"), dict):
                out.append(e["text"]["text"])
            elif isinstance(e.get("text"), str):
                out.append(e["text"])
    return "\n".join(out)


def test_healthz_is_liveness_only(bot: RunningBot) -> None:
    with urllib.request.urlopen(bot.url + "/healthz", timeout=5) as resp:
        body = resp.read()
    assert resp.status == 200
    assert json.loads(body) == {"status": "ok"}  # no version, no row counts: the route is unauthenticated


def test_slash_command_answers_ephemerally_with_exact_figures(bot: RunningBot, stub: SlackStub,
                                                               demo_store: tuple[Path, Path]) -> None:
    status, body = post(bot.events_url, command_body("team-ml last-week", stub.response_url("r1")), SECRET)
    assert status == 200 and body == b""
    calls = stub.wait_for(lambda cs: any(c.kind == "response" for c in cs))
    assert [c.kind for c in calls] == ["response"]  # nothing but the answer
    answer = stub.responses("r1")[0].args
    assert answer["response_type"] == "ephemeral"
    blocks = answer["blocks"]
    assert blocks[0]["type"] == "header" and blocks[0]["text"]["text"] == "team-ml · last-week"
    total = demo_total(demo_store[1], "2026-11-16", "2026-11-23", "ml")
    previous = demo_total(demo_store[1], "2026-11-09", "2026-11-16", "ml")
    text = texts(blocks)
    assert f"*{money(total)}* (2026-11-16 – 2026-11-22)" in text
    assert f"({'+' if total >= previous else '-'}{money(abs(total - previous))}) vs previous period {money(previous)}" \
        in text
    assert "billing data through 2026-11-27" in text
    assert "*Top services*\n• Amazon Elastic Compute Cloud — " in text and "*Why it changed:* " in text
    assert "Untagged" not in text  # a team's untagged share is 0 % by definition
    actions = blocks[-1]
    assert [e["action_id"] for e in actions["elements"]] == ["costbot_share", "costbot_chart"]
    # the buttons carry the question and the day it was asked: a click next week answers these dates
    assert all(e["value"] == '{"q":"team-ml last-week","on":"2026-11-28"}' for e in actions["elements"])


def test_a_button_answers_the_dates_its_answer_showed(bot: RunningBot, stub: SlackStub,
                                                      demo_store: tuple[Path, Path]) -> None:
    """An answer given on Nov 21 says last week is Nov 9-15; Share pressed today shares that week, not Nov 16-22."""
    from bot.domain.answers import pin_question

    post(bot.events_url, actions_body("costbot_share", pin_question("team-ml last-week", date(2026, 11, 21)),
                                      stub.response_url("old")), SECRET)
    stub.wait_for(lambda cs: any(c.name == "chat.postMessage" for c in cs))
    (call,) = stub.api_calls("chat.postMessage")
    text = texts(call.args["blocks"])
    assert f"*{money(demo_total(demo_store[1], '2026-11-09', '2026-11-16', 'ml'))}* (2026-11-09 – 2026-11-15)" in text
    assert call.args["blocks"][-1]["elements"][0]["value"] == '{"q":"team-ml last-week","on":"2026-11-21"}'


def test_breakdown_and_untagged_share(bot: RunningBot, stub: SlackStub, demo_store: tuple[Path, Path]) -> None:
    post(bot.events_url, command_body("last-month by team", stub.response_url("r2")), SECRET)
    stub.wait_for(lambda cs: any(c.kind == "response" for c in cs))
    text = texts(stub.responses("r2")[0].args["blocks"])
    total = demo_total(demo_store[1], "2026-10-01", "2026-11-01")
    for team in ("ml", "vision", "data"):
        cost = demo_total(demo_store[1], "2026-10-01", "2026-11-01", team)
        assert f"• *team-{team}* — {money(cost)} ({cost / total * 100:.1f}%)" in text
    assert "*(untagged)*" in text and ":label: Untagged:" in text


def test_bad_query_gets_a_helpful_error(bot: RunningBot, stub: SlackStub) -> None:
    status, _ = post(bot.events_url, command_body("team-ml lastweek", stub.response_url("r3")), SECRET)
    assert status == 200
    stub.wait_for(lambda cs: any(c.kind == "response" for c in cs))
    reply = stub.responses("r3")[0].args
    assert reply["response_type"] == "ephemeral"
    text = texts(reply["blocks"])
    assert "unknown word 'lastweek'" in text and "Did you mean 'last-week'?" in text
    assert "For example: `/cost team-ml last-week`" in text


def test_an_error_suggests_the_same_command(bot: RunningBot, stub: SlackStub) -> None:
    post(bot.events_url, command_body("budget set team-ml lots", stub.response_url("bs"), user_id="U0ADMIN01"),
         SECRET)
    stub.wait_for(lambda cs: any(c.kind == "response" for c in cs))
    text = texts(stub.responses("bs")[0].args["blocks"])
    assert "'lots' is not an amount" in text and "For example: `/cost budget set team-ml 30000`" in text


def test_help_and_empty_text(bot: RunningBot, stub: SlackStub, demo_store: tuple[Path, Path]) -> None:
    post(bot.events_url, command_body("help", stub.response_url("h")), SECRET)
    post(bot.events_url, command_body("", stub.response_url("e"), user_id="U0VIS0001"), SECRET)
    post(bot.events_url, command_body("", stub.response_url("o"), user_id="UNOBODY"), SECRET)
    stub.wait_for(lambda cs: len([c for c in cs if c.kind == "response"]) >= 3)
    short = stub.responses("h")[0].args["blocks"]
    assert "`/cost team-ml last-week` — a team's week" in texts(short)
    (button,) = [e for b in short if b["type"] == "actions" for e in b["elements"]]
    post(bot.events_url, actions_body(button["action_id"], button["value"], stub.response_url("all")), SECRET)
    stub.wait_for(lambda cs: any(c.kind == "response" and c.name == "all" for c in cs))
    everything = stub.responses("all")[0].args
    assert everything["response_type"] == "ephemeral" and everything["replace_original"] is False
    assert "`last-Nd`" in texts(everything["blocks"]) and "`digest list`" in texts(everything["blocks"])
    vision = stub.responses("e")[0].args["blocks"]
    assert vision[0]["text"]["text"] == "team-vision · last-7d"
    assert money(demo_total(demo_store[1], "2026-11-21", "2026-11-28", "vision")) in texts(vision)
    org = stub.responses("o")[0].args["blocks"]
    assert org[0]["text"]["text"] == "all teams · last-7d"


@pytest.mark.parametrize("how", ["unsigned", "tampered", "stale", "wrong-secret"])
def test_bad_signatures_get_401_and_cause_nothing(bot: RunningBot, stub: SlackStub, how: str) -> None:
    body = command_body("team-ml last-week", stub.response_url("bad"))
    if how == "unsigned":
        status, _ = post(bot.events_url, body, None)
    elif how == "tampered":
        status, _ = post(bot.events_url, body, SECRET, tamper=True)
    elif how == "stale":
        status, _ = post(bot.events_url, body, SECRET, timestamp=int(time.time()) - 6 * 60)
    else:
        status, _ = post(bot.events_url, body, "not-the-secret")
    assert status == 401
    time.sleep(0.5)
    assert stub.calls == []


def test_share_button_reposts_in_channel(bot: RunningBot, stub: SlackStub, demo_store: tuple[Path, Path]) -> None:
    status, _ = post(bot.events_url, actions_body("costbot_share", "team-ml last-week", stub.response_url("s")),
                     SECRET)
    assert status == 200
    stub.wait_for(lambda cs: any(c.name == "chat.postMessage" for c in cs))
    (call,) = stub.api_calls("chat.postMessage")
    assert call.args["channel"] == "C111"
    assert call.headers["authorization"] == "Bearer xoxb-test-token"
    text = texts(call.args["blocks"])
    assert "shared by <@U0ML00001>" in text
    assert money(demo_total(demo_store[1], "2026-11-16", "2026-11-23", "ml")) in text
    # the shared copy offers the chart but not another share
    assert [e["action_id"] for e in call.args["blocks"][-1]["elements"]] == ["costbot_chart"]


def test_rate_limited_web_api_call_is_retried(bot: RunningBot, stub: SlackStub) -> None:
    stub.fail("chat.postMessage", status=429, times=1, headers={"Retry-After": "1"})
    post(bot.events_url, actions_body("costbot_share", "last-week", stub.response_url("s2")), SECRET)
    calls = stub.wait_for(lambda cs: len([c for c in cs if c.name == "chat.postMessage"]) >= 2, timeout=15)
    posts = [c for c in calls if c.name == "chat.postMessage"]
    assert len(posts) == 2
    assert posts[1].at - posts[0].at >= 0.9  # honoured Retry-After
    assert stub.responses() == []  # no error message: the retry succeeded


def test_chart_of_a_private_answer_stays_private(bot: RunningBot, stub: SlackStub) -> None:
    """An ephemeral answer's chart goes to the asker's DM with costbot, named after the question; the channel
    sees nothing."""
    value = '{"q":"team-ml last-30d by project","on":"2026-11-28"}'
    post(bot.events_url, actions_body("costbot_chart", value, stub.response_url("c")), SECRET)
    calls = stub.wait_for(lambda cs: any(c.name == "files.completeUploadExternal" for c in cs)
                          and any(c.kind == "response" for c in cs))
    (opened,) = stub.api_calls("conversations.open")
    assert opened.args["users"] == "U0ML00001"
    names = [c.name for c in calls if c.kind in ("api", "upload")]
    assert names.index("files.getUploadURLExternal") < [c.kind for c in calls].index("upload") \
        < names.index("files.completeUploadExternal")
    get_url = stub.api_calls("files.getUploadURLExternal")[0]
    assert get_url.args["filename"] == "team-ml-by-project-2026-10-29--2026-11-27.png"
    assert int(get_url.args["length"]) > 10_000
    upload = next(c for c in calls if c.kind == "upload")
    assert upload.raw[:8] == b"\x89PNG\r\n\x1a\n"
    complete = stub.api_calls("files.completeUploadExternal")[0]
    assert complete.args["channel_id"] == "D111"  # the DM, not C111
    assert complete.args["files"][0]["title"] == "team-ml · last-30d (2026-10-29 – 2026-11-27)"
    assert "only you can see this chart" in complete.args["initial_comment"]
    assert not stub.api_calls("chat.postMessage")
    (told,) = stub.responses("c")
    assert told.args["response_type"] == "ephemeral" and "your DM with costbot" in told.args["text"]


def test_chart_of_a_shared_answer_goes_into_its_channel(bot: RunningBot, stub: SlackStub) -> None:
    value = '{"q":"team-ml last-week","on":"2026-11-28"}'
    post(bot.events_url, actions_body("costbot_chart", value, stub.response_url("c2"), ephemeral=False), SECRET)
    stub.wait_for(lambda cs: any(c.name == "files.completeUploadExternal" for c in cs))
    assert not stub.api_calls("conversations.open")
    assert stub.api_calls("files.getUploadURLExternal")[0].args["filename"] == "team-ml-2026-11-16--2026-11-22.png"
    complete = stub.api_calls("files.completeUploadExternal")[0]
    assert complete.args["channel_id"] == "C111"
    assert complete.args["initial_comment"] == "<@U0ML00001> asked for `team-ml last-week`"


def test_app_home_shows_the_users_teams(bot: RunningBot, stub: SlackStub, demo_store: tuple[Path, Path]) -> None:
    event = {"type": "app_home_opened", "user": "U0ML00001", "channel": "D1", "tab": "home"}
    status, _ = post(bot.events_url, event_body(event), SECRET, content_type="application/json")
    assert status == 200
    stub.wait_for(lambda cs: any(c.name == "views.publish" for c in cs))
    (call,) = stub.api_calls("views.publish")
    assert call.args["user_id"] == "U0ML00001"
    view = call.args["view"] if isinstance(call.args["view"], dict) else json.loads(call.args["view"])
    text = texts(view["blocks"])
    mtd = demo_total(demo_store[1], "2026-11-01", "2026-11-29", "ml")
    assert f"*team-ml* — month to date *{money(mtd)}*" in text
    assert f"{mtd / 25000 * 100:.0f}% of the $25,000 monthly budget" in text
    buttons = [e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [b["value"] for b in buttons] == ["team-ml last-week", "team-ml mtd by service",
                                             "team-ml last-30d by project"]


def test_concurrent_commands_do_not_block_each_other(bot: RunningBot, stub: SlackStub) -> None:
    queries = ["team-ml last-week", "last-month by team", "mtd by service top 5", "ytd by month",
               "team-vision last-30d by resource", "untagged last-month by account"] * 2

    def send(i: int) -> tuple[int, float]:
        t = time.perf_counter()
        status, _ = post(bot.events_url, command_body(queries[i], stub.response_url(f"p{i}")), SECRET)
        return status, time.perf_counter() - t

    with ThreadPoolExecutor(len(queries)) as pool:
        results = list(pool.map(send, range(len(queries))))
    assert all(status == 200 for status, _ in results)
    stub.wait_for(lambda cs: len([c for c in cs if c.kind == "response"]) == len(queries))
    assert sorted(c.name for c in stub.responses()) == sorted(f"p{i}" for i in range(len(queries)))


def test_signature_helper_matches_slacks_published_vector() -> None:
    path = SHARED_SLACK / "signature_test_vector.json"
    if not path.exists():
        pytest.skip("shared Slack fixtures not available")
    vector = json.loads(path.read_text())
    assert signature(vector["signing_secret"], vector["timestamp"], vector["body"].encode()) \
        == vector["expected_signature"]
