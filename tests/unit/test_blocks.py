"""Block Kit rendering: exact dicts, and Slack's limits kept by summarizing, never by failing."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from bot.domain.answers import CostAnswer, Group, unpin_question
from bot.domain.changes import Change
from bot.domain.errors import QueryError
from bot.domain.periods import resolve_period
from bot.domain.query import Dimension, Grammar, Query, Scope, parse_query
from bot.render import answer_blocks, common, home_blocks


def make_answer(groups: list[Group] | None = None, dimension: str | None = None) -> CostAnswer:
    query = Query(scopes=(Scope("team", "team-ml"),), period="last-week",
                  by=Dimension(dimension, "column", "ServiceName") if dimension else None)
    return CostAnswer(
        query=query, scope={"team": "team-ml"}, period=resolve_period("last-week", date(2026, 11, 28)),
        metric="EffectiveCost", currency="USD", total=Decimal("1500.00"), previous_total=Decimal("1000.00"),
        untagged_cost=Decimal("150.00"), groups=tuple(groups or ()), dimension=dimension,
        data_through=date(2026, 11, 27),
    )


def test_answer_blocks_exact() -> None:
    got = [b.to_dict() for b in answer_blocks.answer_blocks(make_answer(), "team-ml last-week")]
    assert got == [
        {"type": "header", "text": {"type": "plain_text", "text": "team-ml · last-week", "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*$1,500.00* (2026-11-16 – 2026-11-22)\n"
                                     ":arrow_up_small: 50.0% (+$500.00) vs previous period $1,000.00"}},
        {"type": "context", "elements": [
            {"type": "mrkdwn", "text": ":label: Untagged: $150.00 (10.0% of total)"},
            {"type": "mrkdwn", "text": "EffectiveCost · USD · billing data through 2026-11-27"}]},
        {"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Share in channel", "emoji": True},
             "action_id": "costbot_share", "value": "team-ml last-week"},
            {"type": "button", "text": {"type": "plain_text", "text": "Chart", "emoji": True},
             "action_id": "costbot_chart", "value": "team-ml last-week"}]},
    ]


def test_breakdown_is_summarized_into_other_within_limits() -> None:
    groups = [Group(f"resource-{'x' * 70}-{i:04d}", Decimal(1000 - i)) for i in range(500)]
    answer = make_answer(groups, "resource")
    rendered = answer_blocks.answer_blocks(answer, "q")
    section = rendered[2].to_dict()["text"]["text"]
    assert len(section) <= 3000
    lines = section.splitlines()
    assert lines[0] == "*By resource*"
    assert len(lines) - 2 == common.MAX_BREAKDOWN_LINES
    shown = sum(Decimal(1000 - i) for i in range(common.MAX_BREAKDOWN_LINES))
    rest = sum(Decimal(1000 - i) for i in range(500)) - shown
    assert lines[-1].startswith(f"• *(other)* ({500 - common.MAX_BREAKDOWN_LINES} more) — ${rest:,.2f}")
    assert len(rendered) <= common.MAX_BLOCKS


def test_long_values_are_clipped_not_rejected() -> None:
    answer = make_answer([Group("k" * 5000, Decimal(1))], "tag")
    rendered = [b.to_dict() for b in answer_blocks.answer_blocks(answer, "q" * 5000, shared_by="U1")]
    assert len(rendered[-1]["elements"][0]["value"]) == common.MAX_BUTTON_VALUE
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in rendered)


def test_error_blocks_give_problem_suggestion_example() -> None:
    err = QueryError("unknown word 'lastweek'. Did you mean 'last-week'?", word="lastweek", suggestion="last-week")
    (block,) = [b.to_dict() for b in common.error_blocks(err)]
    assert block == {"type": "section", "text": {"type": "mrkdwn", "text": (
        ":warning: unknown word 'lastweek'. Did you mean 'last-week'?\nFor example: `/cost team-ml last-week` — "
        "or `/cost help` for the most useful questions.")}}


@pytest.mark.parametrize(("text", "example"), [
    ("budget set team-ml lots", "budget set team-ml 30000"),
    ("budget set team-ml", "budget set team-ml 30000"),
    ("budget nosuchteam", "budget team-ml"),
    ("digest subscribe", "digest subscribe team-ml daily 09:00"),
    ("digest", "digest list"),
    ("audit many", "audit 20"),
    ("team-ml lastweek", "team-ml last-week"),
])
def test_an_error_shows_an_example_of_the_same_command(text: str, example: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(text, Grammar(teams=("team-ml",)))
    (block,) = [b.to_dict() for b in common.error_blocks(caught.value)]
    assert f"For example: `/cost {example}`" in block["text"]["text"]


def test_short_help_has_five_examples_and_a_way_to_the_rest() -> None:
    rendered = [b.to_dict() for b in answer_blocks.help_blocks(["team-ml"])]
    assert [b["type"] for b in rendered] == ["header", "section", "context", "actions", "context"]
    examples = [line for line in rendered[1]["text"]["text"].splitlines() if line.startswith("• ")]
    assert [line.split("`")[1] for line in examples] == [
        "/cost team-ml last-week", "/cost last-month by team", "/cost team-ml mtd by service top 5", "/cost idle",
        "/cost budget team-ml"]
    assert rendered[3]["elements"][0]["action_id"] == "costbot_help_all"
    assert rendered[4]["elements"][0]["text"] == "or `/cost help all`"
    assert sum(len(b.get("text", {}).get("text", "").splitlines()) for b in rendered) <= 10


def test_full_help_comes_from_the_grammar() -> None:
    rendered = [b.to_dict() for b in answer_blocks.full_help_blocks(["team-ml"])]
    text = "\n".join(b.get("text", {}).get("text", "") for b in rendered)
    assert "`last-Nd`" in text and "`by DIMENSION`" in text and "`team-ml`" in text and "`help [all]`" in text


def test_drivers_why_it_changed_and_no_empty_rows() -> None:
    answer = replace(make_answer(), drivers=(Group("Amazon EC2", Decimal(1200)), Group("Amazon S3", Decimal(300))),
                     drivers_by="service", movers=(Change("Amazon EC2", Decimal(1200), Decimal(700), "service"),
                                                   Change("Amazon S3", Decimal(300), Decimal(310), "service")),
                     untagged_applies=False)
    rendered = [b.to_dict() for b in answer_blocks.answer_blocks(answer, "team-ml last-week")]
    assert rendered[2]["text"]["text"] == (
        "*Top services*\n• Amazon EC2 — $1,200.00 (80%)\n• Amazon S3 — $300.00 (20%)\n"
        "*Why it changed:* *Amazon EC2* +$500.00 (+71%), *Amazon S3* −$10.00 (−3.2%)")
    context = [e["text"] for e in rendered[3]["elements"]]
    assert context == ["EffectiveCost · USD · billing data through 2026-11-27"]  # a team: no untagged line
    breakdown = make_answer([Group("Amazon EC2", Decimal(1500)), Group("Savings Plans", Decimal("0.001"))], "service")
    text = answer_blocks.answer_blocks(breakdown, "q")[2].to_dict()["text"]["text"]
    assert "Savings Plans" not in text and "Amazon EC2" in text
    flat = replace(make_answer(), previous_total=Decimal("1500.00"))
    assert answer_blocks.change_line(flat) == "➖ no change vs previous period $1,500.00"


def test_buttons_carry_the_question_and_the_day_it_was_asked() -> None:
    answer = replace(make_answer(), asked_on=date(2026, 11, 28))
    (share, chart) = answer_blocks.answer_blocks(answer, "team-ml last-week")[-1].to_dict()["elements"]
    assert share["value"] == chart["value"] == '{"q":"team-ml last-week","on":"2026-11-28"}'
    assert unpin_question(share["value"]) == ("team-ml last-week", date(2026, 11, 28))
    assert unpin_question("team-ml last-week") == ("team-ml last-week", None)  # a button from before
    huge = answer_blocks.answer_blocks(answer, 'q"' * 3000)[-1].to_dict()["elements"][0]["value"]
    assert len(huge) <= common.MAX_BUTTON_VALUE and unpin_question(huge)[1] == date(2026, 11, 28)


def test_home_view_without_teams() -> None:
    view = home_blocks.home_view([]).to_dict()
    assert view["type"] == "home"
    assert "not in a team" in view["blocks"][1]["text"]["text"]


def test_the_manifests_usage_hint_is_short_helps_examples() -> None:
    from pathlib import Path

    import yaml

    from bot.domain.query import QUICK_EXAMPLES

    manifest = yaml.safe_load((Path(__file__).resolve().parents[2] / "manifest.yml").read_text(encoding="utf-8"))
    (cost,) = manifest["features"]["slash_commands"]
    assert cost["usage_hint"] == " · ".join([e for e, _ in QUICK_EXAMPLES] + ["help"])
