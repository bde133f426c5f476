"""Property: whatever the text, parsing it either yields a command or raises QueryError (a message for the user),
never another exception."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from bot.domain.errors import QueryError
from bot.domain.query import Grammar, parse_query
from tests.fuzz_texts import TEAMS, cost_texts

G = Grammar(teams=TEAMS, tag_keys={"team": "team", "project": "project", "model": "model", "env": "env"})


@settings(max_examples=4000, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(cost_texts)
def test_parse_query_raises_only_query_errors(text: str) -> None:
    try:
        parse_query(text, G)
    except QueryError as exc:
        assert str(exc)
