"""Athena pushdown: one compilation of the query model, sent to moto's Athena as Trino SQL (checked with
sqlglot), cached by data freshness; and the same Trino SQL, run back on DuckDB, gives the figures that plain
Python computes from the demo data."""

from __future__ import annotations

import csv
import json
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import boto3
import duckdb
import pytest
import sqlglot
import yaml
from sqlglot import exp

from bot.adapters import sql_compile
from bot.adapters.athena_store import source_view, to_athena
from bot.app import Application
from bot.config import Settings, load_config
from bot.domain.periods import resolve_period
from bot.domain.query import Query
from bot.services.scopes import ScopeResolver
from bot.web import make_server, run_until_closed
from tests.conftest import TODAY, CliResult
from tests.integration.conftest import SECRET
from tests.signing import command_body, post
from tests.slack_stub import SlackStub


def cents(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


class _Unused:
    """The scope resolver needs a store only for service-name lookups, which these questions do not make."""


@pytest.mark.parametrize("text", ["team-ml last-month", "untagged 2026-Q3", "project:fraud last-30d",
                                  "last-month by team", "team-vision mtd by service", "2026-11-01..2026-11-07 by day"])
def test_trino_sql_round_trips_to_the_same_figures(demo_store: tuple[Path, Path], text: str) -> None:
    config = load_config(None)
    costs = ScopeResolver(_Unused(), config)  # type: ignore[arg-type]
    query = costs.parse(text)
    assert isinstance(query, Query)
    period = resolve_period(query.period, date.fromisoformat(TODAY))
    spec = costs.spec(query, period.start, period.end)
    grouping = costs.grouping(query)
    if grouping is None:
        sql, params = sql_compile.totals_sql(spec, (period.previous_start, period.previous_end), ())
    else:
        sql, params = sql_compile.groups_sql(spec, grouping, ())
    trino = to_athena(sql, params, source_view("main", "costs"))
    sqlglot.parse_one(trino, read="trino")  # Athena's dialect accepts it
    assert "ELEMENT_AT(" in trino or "Tags" not in sql
    back = sqlglot.transpile(trino, read="trino", write="duckdb")[0]
    con = duckdb.connect(str(demo_store[0] / "costs.duckdb"))  # same config as the other in-process users
    try:
        rows = con.execute(back).fetchall()
    finally:
        con.close()
    # independent figures from the CSV
    with demo_store[1].open(newline="") as fh:
        data = list(csv.DictReader(fh))
    teams = {v.tags["team"]: k for k, v in config.teams.items()}

    def keep(r: dict[str, str], start: date, end: date) -> bool:
        tags = json.loads(r["Tags"])
        day = date.fromisoformat(r["ChargePeriodStart"][:10])
        ok = start <= day < end
        for scope in query.scopes:
            if scope.kind == "team":
                ok = ok and tags.get("team") == config.teams[str(scope.key)].tags["team"]
            elif scope.kind == "untagged":
                ok = ok and "team" not in tags
            elif scope.kind == "tag":
                ok = ok and tags.get(str(scope.key)) == str(scope.value)
        return ok

    if grouping is None:
        current = sum((Decimal(r["EffectiveCost"]) for r in data if keep(r, period.start, period.end)), Decimal(0))
        assert cents(Decimal(rows[0][0])) == cents(current)
    else:
        expected: dict[str, Decimal] = defaultdict(Decimal)
        for r in data:
            if keep(r, period.start, period.end):
                if query.by is not None and query.by.name == "team":
                    key = teams.get(json.loads(r["Tags"]).get("team", ""), "(untagged)")
                elif query.by is not None and query.by.name == "service":
                    key = r["ServiceName"]
                else:
                    key = r["ChargePeriodStart"][:10]
                expected[key] += Decimal(r["EffectiveCost"])
        assert {str(k): cents(Decimal(c)) for k, c in rows} == {k: cents(v) for k, v in expected.items()}


def seed_athena(moto_url: str, results: list[list[list[str]]]) -> None:
    payload = {"account_id": "123456789012", "region": "us-east-1", "results": [
        {"rows": [{"Data": [{"VarCharValue": v} for v in row]} for row in rows], "column_info": []}
        for rows in results]}
    req = urllib.request.Request(f"{moto_url}/moto-api/static/athena/query-results", method="POST",
                                 data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})
    assert urllib.request.urlopen(req, timeout=10).status == 201


def test_ask_is_pushed_down_to_athena_and_cached(aws: Any, moto_server: Any, cli: Callable[..., CliResult],
                                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, moto_url = moto_server
    config = {"teams": {"team-ml": {"tags": {"team": "ml"}}},
              "sources": [{"kind": "athena", "database": "billing", "table": "focus_export", "workgroup": "primary",
                           "output_location": "s3://athena-results/costbot/", "region": "us-east-1"}]}
    path = tmp_path / "costbot.yml"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("COSTBOT_CONFIG", str(path))
    seed_athena(moto_url, [
        [["max"], ["2026-11-27 00:00:00.000"]],                       # data freshness
        [["current", "untagged", "previous"], ["1234.5678", "0", "1000.004"]],  # totals
    ])
    result = cli("ask", "team-ml", "last-month", "--json")
    assert result.code == 0, result.err
    answer = result.json()
    assert (answer["total"], answer["previous_total"], answer["data_through"]) == (1234.57, 1000.0, "2026-11-27")
    athena = boto3.client("athena", region_name="us-east-1")
    ids = athena.list_query_executions()["QueryExecutionIds"]
    sent = [athena.get_query_execution(QueryExecutionId=i)["QueryExecution"]["Query"] for i in ids]
    totals_sql = next(q for q in sent if "FILTER" in q)
    sqlglot.parse_one(totals_sql, read="trino")
    assert "ELEMENT_AT(Tags, 'team')" in totals_sql and '"billing"."focus_export"' in totals_sql
    assert "CAST('2026-10-01' AS DATE)" in totals_sql
    # freshness, the totals, and one daily query over both periods for what drove the total and why it changed
    assert aws.counts["StartQueryExecution"] == 3


def test_results_are_cached_by_question_and_freshness(aws: Any, moto_server: Any) -> None:
    from bot.adapters.athena_store import AthenaCostStore
    from bot.domain.spec import CostSpec

    _, moto_url = moto_server
    seed_athena(moto_url, [[["max"], ["2026-11-27 00:00:00.000"]], [["c", "u", "p"], ["10.5", "1", "9"]]])
    store = AthenaCostStore("billing", "focus_export", output_location="s3://r/", region="us-east-1",
                            poll_seconds=0.01)
    spec = CostSpec("EffectiveCost", date(2026, 11, 1), date(2026, 11, 8))
    first = store.totals(spec, (date(2026, 10, 25), date(2026, 11, 1)))
    again = store.totals(spec, (date(2026, 10, 25), date(2026, 11, 1)))
    assert first == again and first.current == Decimal("10.5")
    assert aws.counts["StartQueryExecution"] == 2  # freshness + the question; the repeat was served from cache


def test_a_tag_key_holding_a_parameter_marker_stays_a_literal(aws: Any, moto_server: Any, tmp_path: Path) -> None:
    """`/cost "x$p8:'||(select 1)||"` once ended the key literal with the value's text (an injected subquery in
    the SQL Athena ran). Over a real signed /cost, the key and value reach Athena as two literals, nothing more."""
    import threading

    _, moto_url = moto_server
    config = {"teams": {"team-ml": {"tags": {"team": "ml"}}},
              "sources": [{"kind": "athena", "database": "billing", "table": "focus_export", "workgroup": "primary",
                           "output_location": "s3://athena-results/costbot/", "region": "us-east-1"}]}
    (tmp_path / "costbot.yml").write_text(yaml.safe_dump(config))
    seed_athena(moto_url, [[["max"], ["2026-11-27 00:00:00.000"]],
                           [["current", "untagged", "previous"], ["42.5", "0", "40"]]])
    stub = SlackStub().start()
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'state.db'}", "COSTBOT_DATA_DIR": str(tmp_path / "data"),
           "COSTBOT_CONFIG": str(tmp_path / "costbot.yml"), "COSTBOT_TODAY": TODAY,
           "SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": stub.api_url}
    application = Application(Settings(env))
    server = make_server(application.wsgi(application.slack_app()), "127.0.0.1", 0)
    threading.Thread(target=run_until_closed, args=(server,), daemon=True).start()
    try:
        text = """"x$p8:'||(select 1)||" last-month"""
        status, _ = post(f"http://127.0.0.1:{server.effective_port}/slack/events",
                         command_body(text, stub.response_url("r1")), SECRET)
        assert status == 200
        stub.wait_for(lambda cs: any(c.kind == "response" for c in cs))
        assert "$42.50" in json.dumps(stub.responses("r1")[0].args["blocks"])
    finally:
        server.close()
        stub.stop()
    athena = boto3.client("athena", region_name="us-east-1")
    sent = [athena.get_query_execution(QueryExecutionId=i)["QueryExecution"]["Query"]
            for i in athena.list_query_executions()["QueryExecutionIds"]]
    question = next(q for q in sent if "FILTER" in q)
    statements = sqlglot.parse(question, read="trino")
    assert len(statements) == 1 and isinstance(statements[0], exp.Select)
    assert len(list(statements[0].find_all(exp.Select))) == 2  # the question and the `costs` view: no subquery
    keys = [b.expressions[0] for b in statements[0].find_all(exp.Bracket)]  # ELEMENT_AT(Tags, key)
    assert [(type(k), k.this) for k in keys] == [(exp.Literal, "team"), (exp.Literal, "x$p8")]
    match = next(e for e in statements[0].find_all(exp.EQ) if isinstance(e.expression, exp.Lower))
    assert match.expression.this == exp.Literal.string("'||(select 1)||")
