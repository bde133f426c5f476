"""Block Kit rendering: exact dicts, and Slack's limits kept by summarizing, never by failing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from bot.domain.answers import CostAnswer, Group
from bot.domain.errors import QueryError
from bot.domain.periods import resolve_period
from bot.domain.query import Dimension, Query, Scope
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
        "or `/cost help` for everything you can ask.")}}


def test_help_blocks_come_from_the_grammar() -> None:
    rendered = [b.to_dict() for b in answer_blocks.help_blocks(["team-ml"])]
    text = "\n".join(b.get("text", {}).get("text", "") for b in rendered)
    assert "`last-Nd`" in text and "`by DIMENSION`" in text and "`team-ml`" in text


def test_home_view_without_teams() -> None:
    view = home_blocks.home_view([]).to_dict()
    assert view["type"] == "home"
    assert "not in a team" in view["blocks"][1]["text"]["text"]
