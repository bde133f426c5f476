"""`/cost savings [TEAM]`: the parser, the ordering and rounding of the figures, and the Slack message."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.domain.errors import QueryError
from bot.domain.query import SavingsCommand, parse_query
from bot.domain.recommendations import Recommendation
from bot.domain.savings import savings_waiting
from bot.render.savings_blocks import MAX_LINES, savings_blocks
from tests.fakes import build_world

CONFIG = {"teams": {"team-ml": {"tags": {"team": "ml"}}, "team-vision": {"tags": {"team": "vision"}}}}


def rec(name: str, savings: str | None, team: str | None = "team-ml", kind: str = "idle") -> Recommendation:
    return Recommendation(resource_key=f"aws|1|us-east-1|ec2|{name}", kind=kind, team=team, name=name,
                          resource_type="g5.xlarge", reason="idle for 26 h",
                          monthly_savings=None if savings is None else Decimal(savings))


def test_the_word_takes_one_team_or_none() -> None:
    grammar = build_world(CONFIG).config.grammar
    assert parse_query("savings", grammar) == SavingsCommand(None)
    assert parse_query("SAVINGS Team-Vision", grammar) == SavingsCommand("team-vision")
    with pytest.raises(QueryError, match="takes at most one team"):
        parse_query("savings team-ml team-vision", grammar)
    with pytest.raises(QueryError) as raised:
        parse_query("savings team-m", grammar)
    assert "team-ml" in str(raised.value)


def test_largest_first_unknown_last_and_the_rows_add_up_to_the_total() -> None:
    recs = [rec("a", "0.005"), rec("b", None), rec("c", "10.005"), rec("d", "0.005"), rec("e", "3.333")]
    result = savings_waiting("team-ml", recs)
    assert [r.recommendation.name for r in result.rows] == ["c", "e", "a", "d", "b"]
    # exact sum 13.348 -> 13.35; floors 10.00 + 3.33 + 0.00 + 0.00 = 13.33, two cents to the largest remainders
    assert result.total == Decimal("13.35")
    figures = [r.monthly_savings for r in result.rows]
    assert figures == [Decimal("10.01"), Decimal("3.33"), Decimal("0.01"), Decimal("0.00"), None]
    assert sum(f for f in figures if f is not None) == result.total and result.unknown == 1
    assert result.to_json()["total"] == 13.35
    assert [r["monthly_savings"] for r in result.to_json()["recommendations"]] == [10.01, 3.33, 0.01, 0.0, None]


def test_the_message_shows_the_total_first_and_each_row_with_its_team_when_all_teams() -> None:
    result = savings_waiting(None, [rec("gpu-dev-02", "4140.56"), rec("ranker", "148.92", "team-vision", "oversized")])
    blocks = [b.to_dict() for b in savings_blocks(result)]
    assert blocks[0]["text"]["text"] == "Savings waiting · all teams"
    assert blocks[1]["text"]["text"] == "*Total $4,289.48/month from 2 open recommendations*"
    lines = blocks[2]["text"]["text"].splitlines()
    assert lines == ["• *gpu-dev-02* `g5.xlarge` — $4,140.56/month · idle: idle for 26 h · team-ml",
                     "• *ranker* `g5.xlarge` — $148.92/month · oversized: idle for 26 h · team-vision"]


def test_a_long_list_stays_within_slacks_limits_and_sums_the_rest() -> None:
    recs = [rec(f"box-{i:03}" + "x" * 70, f"{1000 - i}.00") for i in range(200)]
    result = savings_waiting("team-ml", recs)
    blocks = [b.to_dict() for b in savings_blocks(result)]
    assert len(blocks) <= 50 and all(len(b.get("text", {}).get("text", "")) <= 3000 for b in blocks)
    text = "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")
    rest = sum(1000 - i for i in range(MAX_LINES, 200))
    assert f"• (other) ({200 - MAX_LINES} more) — ${rest:,}.00/month" in text
    assert f"*Total ${sum(1000 - i for i in range(200)):,}.00/month from 200 open recommendations*" in text


def test_no_open_recommendations_says_so() -> None:
    blocks = [b.to_dict() for b in savings_blocks(savings_waiting("team-ml", []))]
    assert blocks[1]["text"]["text"] == "No open recommendations for team-ml."
