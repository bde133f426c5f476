"""`costbot ask` answers every `/cost` word that does not need a channel, with the same content as the Slack
reply: the real bot over signed HTTP (Slack stub) and the real CLI, on the demo store and one state database."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.state.actions_repository import SqlActionStore
from bot.domain.actions import AuditEntry
from bot.domain.query import help_sections
from bot.domain.recommendations import Recommendation
from bot.words import WORDS
from tests.conftest import CliResult
from tests.integration.conftest import SECRET, RunningBot
from tests.signing import command_body, post
from tests.slack_stub import SlackStub

CHANNELS = {"team-ml": "C0TEAMML1", "team-vision": "C0TEAMVIS", "team-data": "C0TEAMDAT", "team-search": "C0TEAMSRC",
            "platform": "C0PLATFRM"}
USER = "U0ML00001"  # team-ml's approver
#: the text asked for each word, in Slack and in the terminal alike
TEXTS = {"help": "help all", "idle": "idle team-ml", "savings": "savings team-ml", "audit": "audit 5",
         "budget": "budget team-ml", "anomalies": "anomalies team-vision", "tags": "tags last-month",
         "sources": "sources", "commitments": "commitments"}
ASKED_BY = {"sources": "U0ADMIN01"}  # admins only, in Slack
KEY = "aws|123456789012|us-east-1|ec2|{}"


def flat(text: str) -> str:
    """Text without Slack's mrkdwn markers, whitespace collapsed (a terminal wraps and pads, Slack does not)."""
    return " ".join(text.replace("*", "").replace("`", "").replace("_(", "(").replace(")_", ")").split())


def slack_text(blocks: list[dict[str, Any]]) -> str:
    out = []
    for b in blocks:
        if isinstance(b.get("text"), dict):
            out.append(b["text"]["text"])
        out += [e["text"] for e in b.get("elements", []) if isinstance(e.get("text"), str)]
    return "\n".join(out)


@pytest.fixture(scope="module")
def seeded(bot: RunningBot) -> RunningBot:
    """State for the words that read it: open recommendations, audit rows, anomalies found on the demo's spike."""
    store = SqlActionStore(bot.app.state)
    for ident, name, savings in (("i-0aaa", "gpu-dev-02", "4140.56"), ("i-0bbb", "nb-research", "148.92")):
        store.upsert_recommendation(Recommendation(
            resource_key=KEY.format(ident), kind="idle", team="team-ml", name=name, resource_type="g5.12xlarge",
            reason="idle for 26 h (GPU ≤ 1%, CPU ≤ 2%)", hourly_price=Decimal("5.672"),
            monthly_savings=Decimal(savings)))
    at = datetime(2026, 11, 27, 14, 5, tzinfo=UTC)
    for i, (actor, action, result, ident) in enumerate((("U0ML00001", "stop", "succeeded", "i-0aaa"),
                                                         ("U0MEMBER1", "stop", "requested", "i-0bbb"),
                                                         ("U0ADMIN01", "snooze", "succeeded", "i-0ccc"))):
        store.add_audit(AuditEntry(at=at + timedelta(minutes=i), actor=actor, action=action,
                                   resource_key=KEY.format(ident), before="running g5.12xlarge x1" if i == 0 else None,
                                   after="stopped g5.12xlarge x1" if i == 0 else None, result=result, request_id=i + 1))
    bot.stub.channels = dict(CHANNELS)
    assert [a.team for a in bot.services.anomalies.check_anomalies(date(2026, 11, 16))] == ["team-vision"]
    return bot


def slack_reply(bot: RunningBot, stub: SlackStub, text: str, user: str = USER) -> list[dict[str, Any]]:
    name = re.sub(r"\W", "-", text)
    status, _ = post(bot.events_url, command_body(text, stub.response_url(name), user_id=user), SECRET)
    assert status == 200
    stub.wait_for(lambda cs: any(c.kind == "response" and c.name == name for c in cs), timeout=30)
    (reply,) = stub.responses(name)
    assert reply.args["response_type"] == "ephemeral"
    return list(reply.args["blocks"])


@pytest.fixture
def ask(seeded: RunningBot, demo_store: tuple[Path, Path], cli: Callable[..., CliResult],
        monkeypatch: pytest.MonkeyPatch) -> Callable[[str], CliResult]:
    """`costbot ask` on the bot's own store and state database, in a terminal wide enough for its tables."""
    monkeypatch.setenv("COSTBOT_DATA_DIR", str(demo_store[0]))
    monkeypatch.setenv("DATABASE_URL", seeded.app.settings.get("DATABASE_URL") or "")
    monkeypatch.setenv("COLUMNS", "400")

    def run(text: str) -> CliResult:
        return cli("ask", text)

    return run


# -- what each word's answer must carry in both places -----------------------------------------------------------
def _help(blocks: list[dict[str, Any]], out: str, bot: RunningBot) -> None:
    shown, out = flat(slack_text(blocks)), flat(out)
    for title, items in help_sections():
        assert flat(title) in shown and flat(title) in out
        for key, desc in items:
            assert flat(f"{key} — {desc}") in shown and flat(f"{key} {desc}") in out


def _idle(blocks: list[dict[str, Any]], out: str, bot: RunningBot) -> None:
    shown, out = flat(slack_text(blocks)), flat(out)
    rows = bot.services.actions.open_views("team-ml")
    assert [r.recommendation.name for r in rows] == ["gpu-dev-02", "nb-research"]
    for row in rows:
        rec = row.recommendation
        for part in (rec.name, rec.reason, f"~${rec.monthly_savings:,.0f}", "g5.12xlarge"):
            assert flat(part) in shown
        for part in (rec.name, f"idle: {rec.reason}", f"${rec.monthly_savings:,.0f}", "g5.12xlarge"):
            assert flat(part) in out
    assert out.index("gpu-dev-02") < out.index("nb-research")  # the same order: largest saving first


def _savings(blocks: list[dict[str, Any]], out: str, bot: RunningBot) -> None:
    shown, rows = flat(slack_text(blocks)), out.splitlines()
    total = "Total $4,289.48/month from 2 open recommendations"  # the seeded 4,140.56 + 148.92
    assert total in shown and total in flat(out)
    for name, figure in (("gpu-dev-02", "$4,140.56"), ("nb-research", "$148.92")):
        assert f"{name} g5.12xlarge — {figure}/month · idle: idle for 26 h (GPU ≤ 1%, CPU ≤ 2%)" in shown
        (row,) = [r for r in rows if name in r]
        assert row.split()[-1] == figure and "team-ml" in row and "g5.12xlarge" in row
    assert shown.index("gpu-dev-02") < shown.index("nb-research") and out.index("gpu-dev-02") < out.index("nb-research")


def _audit(blocks: list[dict[str, Any]], out: str, bot: RunningBot) -> None:
    lines = [flat(line) for line in slack_text(blocks).splitlines() if line.startswith("•")]
    entries = bot.services.actions.audit(5)
    assert len(lines) == len(entries) == 3
    positions = []
    for line, e in zip(lines, entries, strict=True):
        target = e.resource_key.split("|")[-1]
        assert f"<@{e.actor}> {e.action} {target}: {e.result}" in line and f"{e.at:%Y-%m-%d %H:%M}" in line
        row = next(r for r in out.splitlines() if target in r)
        cells = [word for word in row.split() if word != "│"]  # the table's row, without its borders
        assert cells[:6] == [*f"{e.at:%Y-%m-%d %H:%M}".split(), e.actor, e.action, target, e.result]
        positions.append(out.index(row))
    assert positions == sorted(positions)  # newest first in both
    change = "running g5.12xlarge x1 → stopped g5.12xlarge x1"
    assert change in lines[-1] and change in flat(out)


def _budget(blocks: list[dict[str, Any]], out: str, bot: RunningBot) -> None:
    assert blocks[0]["text"]["text"] == "Budget · team-ml · November 2026" and "team-ml · November 2026" in out
    lines = slack_text(blocks[1:]).splitlines()
    assert any(line.startswith("Month-end forecast $22,846 (91% of the budget") for line in map(flat, lines))
    for line in lines:
        assert flat(line) in flat(out)


def _anomalies(blocks: list[dict[str, Any]], out: str, bot: RunningBot) -> None:
    lines = slack_text(blocks).splitlines()[1:]  # after the header
    assert any("train-vision-spike" in line for line in lines)
    for line in lines:
        assert flat(line) in flat(out)


def _tags(blocks: list[dict[str, Any]], out: str, bot: RunningBot) -> None:
    lines = slack_text(blocks).splitlines()
    assert lines[0] == "Tag compliance · last-month (2026-10-01 – 2026-10-31)" and len(lines) >= 4
    for line in lines:
        assert flat(line) in flat(out)


def _sources(blocks: list[dict[str, Any]], out: str, bot: RunningBot) -> None:
    from bot.domain.money import format_money
    from bot.render.source_blocks import accounts_text, months_text, when_text

    shown, out = flat(slack_text(blocks)), flat(out)
    holdings = bot.services.ingest.holdings()
    assert [h.name for h in holdings] == ["demo", "focus_files"]
    for h in holdings:
        for part in (h.name, f"{h.rows:,}", format_money(h.effective_cost), format_money(h.billed_cost),
                     accounts_text(h), months_text(h), when_text(h)):
            assert flat(part) in shown and flat(part) in out


def _commitments(blocks: list[dict[str, Any]], out: str, bot: RunningBot) -> None:
    from bot.render.commitment_blocks import EMPTY

    assert bot.services.ingest.commitments().commitments == ()  # the demo bill has no Contract Commitment dataset
    assert flat(slack_text(blocks)) == flat(EMPTY) == flat(out)


SAME_CONTENT: dict[str, Callable[[list[dict[str, Any]], str, RunningBot], None]] = {
    "help": _help, "idle": _idle, "savings": _savings, "audit": _audit, "budget": _budget, "anomalies": _anomalies,
    "tags": _tags, "sources": _sources, "commitments": _commitments}


def test_every_word_that_needs_no_channel_is_covered() -> None:
    assert set(TEXTS) == set(SAME_CONTENT) == {w for w, entry in WORDS.items() if not entry.needs_channel}


@pytest.mark.parametrize("word", sorted(TEXTS))
def test_costbot_ask_answers_the_word_as_slack_does(word: str, seeded: RunningBot, stub: SlackStub,
                                                     ask: Callable[[str], CliResult]) -> None:
    blocks = slack_reply(seeded, stub, TEXTS[word], ASKED_BY.get(word, USER))
    result = ask(TEXTS[word])
    assert result.code == 0 and result.err == "", result.err
    SAME_CONTENT[word](blocks, result.out, seeded)


def test_a_word_that_needs_a_channel_names_what_to_use_instead(ask: Callable[[str], CliResult]) -> None:
    result = ask("digest list")
    assert result.code == 2 and result.out == ""
    assert "`digest …` needs a Slack channel; in a terminal use `costbot digest SCOPE --preview DIR (or --post " \
           "--channel C…)`" in " ".join(result.err.split())


def test_savings_as_json_adds_up_to_its_total(seeded: RunningBot, demo_store: tuple[Path, Path],
                                              cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    monkeypatch.setenv("COSTBOT_DATA_DIR", str(demo_store[0]))
    monkeypatch.setenv("DATABASE_URL", seeded.app.settings.get("DATABASE_URL") or "")
    result = cli("ask", "savings", "team-ml", "--json")
    assert result.code == 0, result.err
    payload = json.loads(result.out)
    assert payload["team"] == "team-ml" and payload["total"] == 4289.48
    assert [(r["name"], r["monthly_savings"], r["kind"]) for r in payload["recommendations"]] == [
        ("gpu-dev-02", 4140.56, "idle"), ("nb-research", 148.92, "idle")]
