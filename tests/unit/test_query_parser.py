import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.errors import QueryError
from bot.domain.query import (
    Command,
    Dimension,
    Grammar,
    HelpRequest,
    Query,
    Scope,
    help_text,
    parse_query,
)

G = Grammar(teams=("team-ml", "team-data"), tag_keys={"team": "team", "project": "project", "model": "ml_model",
                                                     "env": "env"})


def test_full_query_in_any_order_and_case() -> None:
    q = parse_query("BILLED top 3 by Service project:fraud Team-ML last-month", G)
    assert q == Query(
        scopes=(Scope("tag", "project", "fraud"), Scope("team", "team-ml")),
        period="last-month",
        by=Dimension("service", "column", "ServiceName"),
        top=3,
        billed=True,
    )


def test_defaults_to_last_7d_whole_org() -> None:
    assert parse_query("", G) == Query()


def test_quoted_service_value() -> None:
    q = parse_query('service:"Amazon SageMaker" 2026-Q3', G)
    assert isinstance(q, Query)
    assert q.scopes == (Scope("service", "service", "Amazon SageMaker"),)
    assert q.period == "2026-q3"


def test_dimension_maps_through_tag_keys_and_any_tag_key_works() -> None:
    q = parse_query("by model", G)
    assert isinstance(q, Query) and q.by == Dimension("model", "tag", "ml_model")
    q = parse_query("by cost_center", G)
    assert isinstance(q, Query) and q.by == Dimension("cost_center", "tag", "cost_center")
    q = parse_query("by team", G)
    assert isinstance(q, Query) and q.by == Dimension("team", "team", "team")
    q = parse_query("by week", G)
    assert isinstance(q, Query) and q.by == Dimension("week", "time", "week")


def test_tag_scope_maps_dimension_name_to_tag_key() -> None:
    q = parse_query("model:bert-large untagged", G)
    assert isinstance(q, Query)
    assert q.scopes == (Scope("tag", "ml_model", "bert-large"), Scope("untagged"))


def test_team_colon_value_with_team_name() -> None:
    q = parse_query("team:team-data", G)
    assert isinstance(q, Query) and q.scopes == (Scope("team", "team-data"),)


@pytest.mark.parametrize(
    ("text", "word", "suggestion"),
    [
        ("tem-ml last-week", "tem-ml", "team-ml"),
        ("team-ml lastweek", "lastweek", "last-week"),
        ("team-ml yesterdy", "yesterdy", "yesterday"),
        ("biled", "biled", "billed"),
    ],
)
def test_unknown_word_names_it_and_suggests(text: str, word: str, suggestion: str) -> None:
    with pytest.raises(QueryError) as exc:
        parse_query(text, G)
    assert exc.value.word == word
    assert exc.value.suggestion == suggestion
    assert f"'{word}'" in str(exc.value) and f"'{suggestion}'" in str(exc.value)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("by", "needs a dimension"),
        ("top", "needs a number"),
        ("top 0", "top"),
        ("last-week yesterday", "two periods"),
        ("project:", "needs a key and a value"),
        ('service:"open', "quotes"),
        ("2026-13", "not a valid month"),
    ],
)
def test_malformed_queries(text: str, fragment: str) -> None:
    with pytest.raises(QueryError, match=fragment):
        parse_query(text, G)


def test_help_is_generated_from_the_grammar() -> None:
    assert isinstance(parse_query("help", G), HelpRequest)
    text = help_text(G)
    for expected in ("last-Nd", "by DIMENSION", "top N", "billed", "untagged", "team-ml, team-data",
                     "YYYY-MM-DD..YYYY-MM-DD"):
        assert expected in text


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(st.text(max_size=80))
def test_arbitrary_text_raises_only_query_errors(text: str) -> None:
    try:
        result = parse_query(text, G)
    except QueryError:
        return
    assert isinstance(result, Query | Command)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.lists(st.sampled_from(["team-ml", "by", "top", "3", "service:x", "billed", "last-week", "mtd",
                                 "untagged", "project:a", "help", "2026-Q5", "2026-02-29", "x:y:z", '"']),
                max_size=8))
def test_arbitrary_word_sequences_raise_only_query_errors(words: list[str]) -> None:
    with contextlib.suppress(QueryError):
        parse_query(" ".join(words), G)


@pytest.mark.parametrize(("text", "word", "message"), [
    ("top ²", "²", "'top' needs a number (digits 0-9), e.g. `top 5`"),
    ("top ١٢", "١٢", "'top' needs a number (digits 0-9), e.g. `top 5`"),
    ("top " + "9" * 5000, "9" * 5000, "`top` takes 1 to 1000"),
    ("top 1001", "1001", "`top` takes 1 to 1000"),
    ("audit ²", "²", "`audit` takes a number from 1 to 100, e.g. `audit 20`"),
    ("audit " + "9" * 5000, "9" * 5000, "`audit` takes a number from 1 to 100, e.g. `audit 20`"),
    ("9999-12-31", "9999-12-31", "'9999-12-31' is out of range: dates run from 1970-01-01 to 2999-12-31"),
    ("tags 0000-01", "0000-01", "'0000-01' is out of range: dates run from 1970-01-01 to 2999-12-31"),
    ("team-ml tags", "tags", "'tags' starts a command of its own; put it first, e.g. `tags last-month`"),
    ("last-week BUDGET", "BUDGET", "'BUDGET' starts a command of its own; put it first, e.g. `budget team-ml`"),
])
def test_numbers_dates_and_misplaced_commands_get_their_own_error(text: str, word: str, message: str) -> None:
    with pytest.raises(QueryError) as exc:
        parse_query(text, G)
    assert (str(exc.value), exc.value.word) == (message, word)


@pytest.mark.parametrize(("amount", "message"), [
    ("1e999999", "'1e999999' is too large: amounts go up to 1,000,000,000,000"),
    ("1000000000000.01", "'1000000000000.01' is too large: amounts go up to 1,000,000,000,000"),
    ("1e-999999", "'1e-999999' has more than two decimal places (whole cents only)"),
    ("25000.005", "'25000.005' has more than two decimal places (whole cents only)"),
    ("sNaN", "'sNaN' is not an amount: digits 0-9, e.g. 25000 or $25,000.50"),
    ("Infinity", "'Infinity' is not an amount: digits 0-9, e.g. 25000 or $25,000.50"),
    ("lots", "'lots' is not an amount: digits 0-9, e.g. 25000 or $25,000.50"),
    ("0", "a budget must be a positive amount"),
])
def test_budget_amounts_are_bounded(amount: str, message: str) -> None:
    with pytest.raises(QueryError) as exc:
        parse_query(f"budget set team-ml {amount}", G)
    assert (str(exc.value), exc.value.word) == (message, amount)


@pytest.mark.parametrize(("amount", "value"), [("1000000000000", "1000000000000"), ("$1,500.50", "1500.50"),
                                               ("25,000", "25000"), ("0.01", "0.01")])
def test_budget_amounts_in_bounds(amount: str, value: str) -> None:
    from decimal import Decimal

    from bot.domain.query import BudgetCommand

    assert parse_query(f"budget set team-ml {amount}", G) == BudgetCommand("team-ml", Decimal(value))


@pytest.mark.parametrize("text", ["1_000", "١٠٠", "25.000.00", "$$5", "5$"])
def test_amounts_are_digits_0_to_9(text: str) -> None:
    from bot.domain.money import parse_amount

    with pytest.raises(QueryError, match="is not an amount: digits 0-9"):
        parse_amount(text)


def test_shared_cluster_scopes_and_dimensions() -> None:
    q = parse_query("cluster:ml-eks namespace:ml-train workload:(idle) mtd by node", G)
    assert isinstance(q, Query)
    assert q.scopes == (Scope("cluster", "cluster", "ml-eks"), Scope("namespace", "namespace", "ml-train"),
                        Scope("workload", "workload", "(idle)"))
    assert q.by == Dimension("node", "column", "x_Node")
    for word, column in (("cluster", "x_Cluster"), ("namespace", "x_Namespace"), ("workload", "x_Workload")):
        q = parse_query(f"team-ml by {word}", G)
        assert isinstance(q, Query) and q.by == Dimension(word, "column", column)


def test_idle_capacity_is_the_idle_workload_by_cluster() -> None:
    q = parse_query("idle-capacity cluster:ml-eks last-month", G)
    assert q == Query(scopes=(Scope("cluster", "cluster", "ml-eks"), Scope("workload", "workload", "(idle)")),
                      period="last-month", by=Dimension("cluster", "column", "x_Cluster"))
    q = parse_query("idle-capacity by node", G)
    assert isinstance(q, Query) and q.by == Dimension("node", "column", "x_Node")
