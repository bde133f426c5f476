"""Tag keys and values are data, whatever they hold.

The Athena compile path is fuzzed with a fixed seed: every question shape is compiled with thousands of
random keys, values and names (quotes, `$pN`, `%`, `_`, backslashes, NUL, line breaks, unicode), and the
Trino SQL must parse as one SELECT whose tree has exactly the shape it has for harmless strings, with every
string literal, in order, equal to the original text. The same kind of strings go through the DuckDB store
as real tags and come back with exact sums.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

from bot.adapters import sql_compile
from bot.adapters.athena_store import AthenaError, source_view, to_athena, trino_string
from bot.adapters.duckdb_store import DuckDBCostStore
from bot.adapters.sources.columns import quote_ident, quote_literal
from bot.domain.spec import AllOf, ColumnIn, CostSpec, Grouping, TagMissing, TagsMatch, TeamRule

SEED = 20261128
START, END = date(2026, 11, 1), date(2026, 12, 1)
PREVIOUS = (date(2026, 10, 1), date(2026, 11, 1))
SOURCE = source_view("billing", "focus_export")

# pieces that have broken SQL builders somewhere: quote styles, parameter markers, LIKE wildcards, escapes,
# comments, statement separators, control characters, unicode that lower-cases oddly, astral characters
PIECES = [
    "'", "''", '"', "`", "$", "$p", "$p0", "$p1", "$p8", "$p10", "$1", "?", ":p1", "%", "%s", "_", "\\", "\\\\",
    "\\0000", "\\+01F600", "U&'", "E'", "\x00", "\n", "\r\n", "\t", "\x1f", "\x7f", "\x85", "\u2028", "\u00a0",
    "\u200b", "\ufeff", "--", "/*", "*/", ";", "||", "(", ")", "[", "]", "{", "}", ",", ":", "=", " ",
    "SELECT", "select 1", "DROP TABLE costs", "OR 1=1", "é", "ß", "İ", "ΟΔΟΣ", "Σ", "ﬁ", "東京", "😀",
    "\U0001f468\u200d\U0001f469", "\U0010fffd", "\ue000", "a", "Z", "0", "9", "team", "(untagged)",
]


def fuzz_text(rng: random.Random) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 8)))


# -- the question shapes: each takes the strings it uses, in order -----------------------------------------
Shape = Callable[[Sequence[str]], tuple[str, dict[str, Any]]]


def _pairs(s: Sequence[str]) -> tuple[tuple[str, str], ...]:
    return tuple(zip(s[::2], s[1::2], strict=True))


def _totals(s: Sequence[str]) -> tuple[str, dict[str, Any]]:
    spec = CostSpec("EffectiveCost", START, END, (TagsMatch(_pairs(s[:8])), TagMissing(s[8]),
                                                  ColumnIn("ServiceName", tuple(s[9:12]))), untagged_key=s[12])
    return sql_compile.totals_sql(spec, PREVIOUS, ())


def _by_tag(s: Sequence[str]) -> tuple[str, dict[str, Any]]:
    spec = CostSpec("BilledCost", START, END, (AllOf((TagsMatch(_pairs(s[:8])), TagMissing(s[8]))),
                                               ColumnIn("RegionId", (s[9], s[10]))))
    return sql_compile.groups_sql(spec, Grouping("tag", s[11]), ())


def _by_team(s: Sequence[str]) -> tuple[str, dict[str, Any]]:
    teams = (TeamRule(s[0], TagsMatch(_pairs(s[1:5]))), TeamRule(s[5], TagsMatch(_pairs(s[6:8]))),
             TeamRule(s[8], TagsMatch(_pairs(s[9:11]))))
    spec = CostSpec("EffectiveCost", START, END, (ColumnIn("RegionId", (s[11],)),))
    return sql_compile.groups_sql(spec, Grouping("teams", "team", teams=teams), ())


def _daily_rules_then_tag(s: Sequence[str]) -> tuple[str, dict[str, Any]]:
    rules = ((s[0], TagsMatch(_pairs(s[1:5]))), (s[5], AllOf((TagMissing(s[6]), ColumnIn("ResourceId", (s[7], s[8]))))))
    grouping = Grouping("rules", "", rules=rules, then=Grouping("tag", s[9]))
    return sql_compile.daily_sql(CostSpec("EffectiveCost", START, END, (TagsMatch(_pairs(s[10:12])),)), grouping, ())


def _by_month(s: Sequence[str]) -> tuple[str, dict[str, Any]]:
    spec = CostSpec("EffectiveCost", START, END, (TagsMatch(_pairs(s[:6])), TagMissing(s[6])))
    return sql_compile.groups_sql(spec, Grouping("time", "month", then=Grouping("teams", s[7])), ())


SHAPES: dict[str, tuple[Shape, int]] = {
    "totals": (_totals, 13), "by_tag": (_by_tag, 12), "by_team": (_by_team, 12),
    "daily_rules_then_tag": (_daily_rules_then_tag, 12), "by_month": (_by_month, 8),
}
ROUNDS = 120  # x 5 shapes x 8-13 strings: about 6,800 fuzzed keys, values and names


# -- reading Trino string literals back, by Trino's rules (not by the code under test) ----------------------
def trino_value(node: exp.Expression) -> str:
    """The string a Trino string literal stands for: '...' as is (sqlglot has undoubled the quotes); U&'...'
    with \\XXXX, \\+XXXXXX and \\\\ decoded, as Trino's AstBuilder does (surrogates are invalid)."""
    if isinstance(node, exp.Literal) and node.is_string:
        return str(node.this)
    assert isinstance(node, exp.UnicodeString) and not node.args.get("escape"), node
    raw, out, i = str(node.this), [], 0
    while i < len(raw):
        if raw[i] != "\\":
            out.append(raw[i])
            i += 1
        elif raw[i + 1:i + 2] == "\\":
            out.append("\\")
            i += 2
        else:
            plus = raw[i + 1:i + 2] == "+"
            digits = raw[i + 2:i + 8] if plus else raw[i + 1:i + 5]
            assert re.fullmatch(r"[0-9A-Fa-f]{6}" if plus else r"[0-9A-Fa-f]{4}", digits), raw
            code = int(digits, 16)
            assert code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF, raw
            out.append(chr(code))
            i += len(digits) + (2 if plus else 1)
    return "".join(out)


def is_string_literal(node: exp.Expression) -> bool:
    return isinstance(node, exp.UnicodeString) or (isinstance(node, exp.Literal) and node.is_string)


def read_trino(sql: str) -> tuple[list[str], list[str]]:
    """The parsed statement's node types (string literals as one kind) and its string literals, in order."""
    statements = sqlglot.parse(sql, read="trino")
    assert len(statements) == 1 and isinstance(statements[0], exp.Select), sql
    nodes = list(statements[0].walk())
    kinds = ["String" if is_string_literal(n) else type(n).__name__ for n in nodes]
    return kinds, [trino_value(n) for n in nodes if is_string_literal(n)]


def harmless(n: int) -> list[str]:
    return [f"s{i}x" for i in range(n)]


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_fuzzed_keys_and_values_stay_literals_in_trino(shape: str) -> None:
    build, width = SHAPES[shape]
    safe = harmless(width)
    expected_kinds, safe_literals = read_trino(to_athena(*build(safe), SOURCE))
    assert expected_kinds.count("Select") == 2  # the question and the `costs` view, nothing else
    assert all(s in safe_literals for s in safe)  # every string of the question is a literal of its own
    rng = random.Random(f"{SEED}-{shape}")
    for _ in range(ROUNDS):
        strings = [fuzz_text(rng) for _ in range(width)]
        trino = to_athena(*build(strings), SOURCE)
        kinds, literals = read_trino(trino)
        assert kinds == expected_kinds, trino  # the data never changes the shape of the query
        wanted = [strings[safe.index(lit)] if lit in safe else lit for lit in safe_literals]
        assert literals == wanted, trino


def test_the_fuzz_covers_the_dangerous_characters() -> None:
    rng = random.Random(f"{SEED}-totals")
    seen = "".join(fuzz_text(rng) for _ in range(ROUNDS * SHAPES["totals"][1]))
    for piece in ("'", "$p8", "%", "_", "\\", "\x00", "\n", "İ", "😀", "\U0010fffd"):
        assert piece in seen


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.text())
def test_any_text_is_one_trino_literal_of_itself(text: str) -> None:
    literal = exp.select(trino_string(text)).sql(dialect="trino")
    statement = sqlglot.parse_one(literal, read="trino")
    assert isinstance(statement, exp.Select) and len(statement.expressions) == 1
    assert trino_value(statement.expressions[0]) == text


def test_unprintable_text_is_a_unicode_literal() -> None:
    assert exp.select(trino_string("it's $p8 50% a_b \\x")).sql(dialect="trino") == "SELECT 'it''s $p8 50% a_b \\x'"
    assert exp.select(trino_string("a\x00'\\\n😀\U0010fffd")).sql(dialect="trino") == \
        "SELECT U&'a\\0000''\\\\\\000A😀\\+10FFFD'"


def test_a_lone_surrogate_is_refused_with_a_clear_error() -> None:
    with pytest.raises(AthenaError, match="not valid Unicode text"):
        trino_string("team\ud800")


# -- the DuckDB store: the same kind of strings as real tags, exact sums ------------------------------------
def test_duckdb_quoting_helpers_read_back_unchanged() -> None:
    """Ingest still writes names read from file headers as DuckDB literals and identifiers."""
    rng = random.Random(f"{SEED}-quoting")
    texts = [fuzz_text(rng) for _ in range(2000)]
    con = duckdb.connect()
    try:
        for i in range(0, len(texts), 200):
            batch = texts[i:i + 200]
            assert list(con.execute("SELECT " + ", ".join(map(quote_literal, batch))).fetchone() or ()) == batch
            named = list(dict.fromkeys(t for t in batch if t))  # an identifier cannot be empty
            aliases = ", ".join(f"1 AS {quote_ident(t)}" for t in named)
            described = con.execute(f"SELECT {aliases}").description or []
            assert [d[0] for d in described] == named
    finally:
        con.close()


def test_fuzzed_tags_round_trip_through_the_duckdb_store(tmp_path: Path) -> None:
    rng = random.Random(f"{SEED}-duckdb")
    rows = 240
    # the index prefix keeps keys and values distinct however the engine lower-cases the rest
    keys = [f"{i:03d}{fuzz_text(rng)}" for i in range(rows)]
    values = [f"{i:03d}{fuzz_text(rng)}" for i in range(rows)]
    costs = [Decimal(i + 1) + Decimal("0.125") for i in range(rows)]
    table = pa.table({
        "ChargePeriodStart": pa.array([f"2026-11-{1 + i % 28:02d}T00:00:00Z" for i in range(rows)]),
        "BilledCost": pa.array(costs, type=pa.decimal128(18, 9)),
        "EffectiveCost": pa.array(costs, type=pa.decimal128(18, 9)),
        "ServiceName": pa.array(["Amazon SageMaker"] * rows),
        "Tags": pa.array([[(k, v)] for k, v in zip(keys, values, strict=True)],
                         type=pa.map_(pa.string(), pa.string())),
    })
    path = tmp_path / "fuzz.parquet"
    pq.write_table(table, path)
    store = DuckDBCostStore(":memory:")
    try:
        store.index_tags(keys[:10])  # materialized before ingest: the insert binds these keys
        store.ingest_files([path], source="fuzz")
        store.index_tags(keys[10:20])  # materialized after: the update binds these keys
        assert set(store.tag_keys()) == set(keys)
        everything = sum(costs, Decimal(0))
        month = CostSpec("EffectiveCost", START, END)
        for key, value, cost in zip(keys, values, costs, strict=True):
            spec = CostSpec("EffectiveCost", START, END, (TagsMatch(((key, value),)),), untagged_key=key)
            totals = store.totals(spec, PREVIOUS)
            assert (totals.current, totals.untagged, totals.previous) == (cost, Decimal(0), Decimal(0)), key
            assert store.groups(month, Grouping("tag", key)) == [("(untagged)", everything - cost), (value, cost)]
            missing = store.totals(CostSpec("EffectiveCost", START, END, (TagMissing(key),)), PREVIOUS)
            assert missing.current == everything - cost
    finally:
        store.close()


def test_values_are_lower_cased_by_the_engine_on_both_sides(tmp_path: Path) -> None:
    """Python's str.lower and SQL's lower differ (final sigma, dotted I): both sides go through the engine."""
    table = pa.table({
        "ChargePeriodStart": pa.array(["2026-11-02T00:00:00Z", "2026-11-03T00:00:00Z", "2026-11-04T00:00:00Z"]),
        "EffectiveCost": pa.array([Decimal("1.5"), Decimal("20"), Decimal("300")], type=pa.decimal128(18, 9)),
        "Tags": pa.array([[("city", "ΟΔΟΣ")], [("city", "İSTANBUL")], [("city", "other")]],
                         type=pa.map_(pa.string(), pa.string())),
    })
    pq.write_table(table, tmp_path / "cities.parquet")
    store = DuckDBCostStore(":memory:")
    try:
        store.ingest_files([tmp_path / "cities.parquet"], source="cities")
        for asked, cost in (("ΟΔΟΣ", "1.5"), ("οδοσ", "1.5"), ("İSTANBUL", "20"), ("OTHER", "300")):
            spec = CostSpec("EffectiveCost", START, END, (TagsMatch((("CITY", asked),)),))
            assert store.totals(spec, PREVIOUS).current == Decimal(cost), asked
    finally:
        store.close()
