"""A team's namespace patterns compile to LIKE (every engine has it): `*` and `?` are wildcards, `%`, `_` and `\\`
in a pattern are themselves."""

from __future__ import annotations

import duckdb
import pytest

from bot.adapters.sql_compile import SqlBuilder, like_pattern
from bot.domain.spec import ColumnGlob


@pytest.mark.parametrize(("pattern", "namespace", "matches"), [
    ("ml-*", "ml-train", True), ("ml-*", "ML-Dev", True), ("ml-*", "vision-ml-x", False),
    ("team-?", "team-a", True), ("team-?", "team-ab", False),
    ("ml_*", "ml_train", True), ("ml_*", "mlxtrain", False),  # `_` is not a wildcard
    ("100%", "100%", True), ("100%", "1000", False), ("a\\b", "a\\b", True),
])
def test_namespace_patterns(pattern: str, namespace: str, matches: bool) -> None:
    b = SqlBuilder([])
    sql = b.condition(ColumnGlob("x_Namespace", (pattern,)))
    con = duckdb.connect()
    try:
        got = con.execute(f"SELECT {sql} FROM (SELECT $ns AS x_Namespace)", {**b.params, "ns": namespace}).fetchone()
    finally:
        con.close()
    assert got == (matches,)


def test_like_pattern() -> None:
    assert like_pattern("ml-*") == "ml-%" and like_pattern("a_b?") == "a\\_b_"
