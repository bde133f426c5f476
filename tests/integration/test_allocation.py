"""Allocation, tag compliance and showback on the demo data, against plain Python over the demo CSV."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import load_config
from bot.domain.allocation import largest_remainder
from tests.conftest import CliResult
from tests.stores import copy_store

START, END = "2026-10-01", "2026-11-01"  # last-month for today = 2026-11-28
TEAMS = {"ml": "team-ml", "vision": "team-vision", "search": "team-search", "data": "team-data",
         "platform": "team-platform"}
RULES = [
    {"name": "shared-network", "select": {"service": "Amazon Virtual Private Cloud"}, "method": "proportional",
     "to": ["team-ml", "team-data"]},
    {"name": "transfer", "select": {"service": "AWS Data Transfer"}, "method": "even"},
    {"name": "cluster", "select": {"project": "shared-cluster"}, "method": "weights",
     "weights": {"team-ml": 60, "team-vision": 40}},
    {"name": "leftovers", "select": {"untagged": True}, "method": "usage", "metric": "gpu_hours",
     "to": ["team-ml", "team-vision"]},
]


def cents(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@pytest.fixture
def alloc_env(demo_store: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
              cli: Callable[..., CliResult]) -> list[dict[str, str]]:

    data = tmp_path / "store"
    data.mkdir()
    copy_store(demo_store[0] / "costs.duckdb", data / "costs.duckdb")
    config = yaml.safe_load((Path(__file__).resolve().parents[2] / "bot" / "demo_config.yml").read_text())
    config["allocation"] = RULES
    (tmp_path / "costbot.yml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("COSTBOT_CONFIG", str(tmp_path / "costbot.yml"))
    monkeypatch.setenv("COSTBOT_DATA_DIR", str(data))
    usage = tmp_path / "usage.csv"
    usage.write_text("date,team,metric,quantity\n2026-10-05,team-ml,gpu_hours,300\n"
                     "2026-10-06,team-vision,gpu_hours,100\n2026-10-06,team-vision,cpu_hours,999\n")
    assert cli("ingest-usage", str(usage)).code == 0
    with demo_store[1].open(newline="") as fh:
        return list(csv.DictReader(fh))


POOLS: dict[str, dict[str, Decimal]] = {}


def expected(rows: list[dict[str, str]]) -> tuple[dict[str, Decimal], dict[str, dict[str, Decimal]], Decimal]:
    """Direct per team, shared per rule per team, unallocated: the rules applied by hand, in order."""
    direct: dict[str, Decimal] = defaultdict(Decimal)
    pools: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))  # rule -> service -> cost
    unallocated = Decimal(0)
    for r in rows:
        if not START <= r["ChargePeriodStart"][:10] < END:
            continue
        tags = json.loads(r["Tags"])
        cost = Decimal(r["EffectiveCost"])
        if r["ServiceName"] == "Amazon Virtual Private Cloud":
            pools["shared-network"][r["ServiceName"]] += cost
        elif r["ServiceName"] == "AWS Data Transfer":
            pools["transfer"][r["ServiceName"]] += cost
        elif tags.get("project") == "shared-cluster":
            pools["cluster"][r["ServiceName"]] += cost
        elif "team" not in tags:
            pools["leftovers"][r["ServiceName"]] += cost
        elif tags["team"] in TEAMS:
            direct[TEAMS[tags["team"]]] += cost
        else:
            unallocated += cost
    weights = {
        "shared-network": {"team-ml": direct["team-ml"], "team-data": direct["team-data"]},
        "transfer": {t: Decimal(1) for t in TEAMS.values()},
        "cluster": {"team-ml": Decimal(60), "team-vision": Decimal(40)},
        "leftovers": {"team-ml": Decimal(300), "team-vision": Decimal(100)},
    }
    POOLS.clear()
    POOLS.update(pools)
    shared: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for rule, by_service in pools.items():
        for service in sorted(by_service):
            for team, part in largest_remainder(by_service[service], weights[rule]).items():
                shared[rule][team] += part
    return direct, shared, unallocated


def ask(cli: Callable[..., CliResult], text: str) -> dict[str, Any]:
    result = cli("ask", text, "--json")
    assert result.code == 0, result.err
    return result.json()


def test_by_team_shows_direct_shared_and_total(alloc_env, cli) -> None:  # type: ignore[no-untyped-def]
    direct, shared, unallocated = expected(alloc_env)
    answer = ask(cli, "last-month by team")
    groups = {g["key"]: g for g in answer["groups"]}
    for team in TEAMS.values():
        team_shared = sum((shared[r].get(team, Decimal(0)) for r in shared), Decimal(0))
        assert groups[team]["direct_cost"] == float(cents(direct[team]))
        assert groups[team]["shared_cost"] == float(cents(team_shared))
        assert groups[team]["cost"] == float(cents(direct[team] + team_shared))
    assert groups.get("(unallocated)", {"cost": 0.0})["cost"] == float(cents(unallocated))
    # money is conserved: the shared parts add up to every pool's cost, to the cent
    pooled = sum((cents(cost) for by_service in POOLS.values() for cost in by_service.values()), Decimal(0))
    assert cents(Decimal(str(sum(g.get("shared_cost", 0.0) for g in answer["groups"])))) == pooled


def test_team_answer_reports_the_allocated_total_and_direct_on_request(alloc_env, cli) -> None:  # type: ignore[no-untyped-def]
    direct, shared, _ = expected(alloc_env)
    team_shared = sum((shared[r].get("team-ml", Decimal(0)) for r in shared), Decimal(0))
    answer = ask(cli, "team-ml last-month")
    assert answer["total"] == float(cents(direct["team-ml"] + team_shared))
    assert answer["direct_cost"] == float(cents(direct["team-ml"])) and answer["shared_cost"] == float(team_shared)
    plain = ask(cli, "team-ml last-month direct")
    assert plain["total"] == float(cents(direct["team-ml"])) and "shared_cost" not in plain
    text = cli("ask", "team-ml", "last-month").out
    assert "= direct" in text and "shared" in text


def test_usage_file_errors_are_named(alloc_env, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.csv"
    bad.write_text("date,team,metric,quantity\n2026-10-05,team-ml,gpu_hours,3\n2026-13-01,team-ml,gpu_hours,1\n")
    result = cli("ingest-usage", str(bad))
    assert result.code == 1 and "bad.csv, row 2, column date: '2026-13-01' is not a date" in result.err


def test_tag_compliance_report(alloc_env, cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("tags", "report", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    total = untagged = Decimal(0)
    per_account: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    per_service: dict[str, Decimal] = defaultdict(Decimal)
    for r in alloc_env:
        if START <= r["ChargePeriodStart"][:10] < END:
            cost = Decimal(r["EffectiveCost"])
            tagged = "team" in json.loads(r["Tags"])
            total += cost
            per_account[r["SubAccountId"]][0] += cost
            if tagged:
                per_account[r["SubAccountId"]][1] += cost
            else:
                untagged += cost
                per_service[r["ServiceName"]] += cost
    assert report["total"] == float(cents(total)) and report["untagged_cost"] == float(cents(untagged))
    assert report["untagged_share"] == float(round(untagged / total * 100, 2))
    top = max(per_service, key=lambda k: per_service[k])
    assert report["top_untagged_services"][0] == {"key": top, "cost": float(cents(per_service[top]))}
    cov = {a["account"]: a["covered_percent"] for a in report["coverage_by_account"]}
    assert cov == {a: float(round(v[1] / v[0] * 100, 2)) for a, v in per_account.items()}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_showback_export_adds_up_to_the_answer(alloc_env, cli, tmp_path, fmt) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / f"showback.{fmt}"
    result = cli("export", "--period", "last-month", "--format", fmt, "--output", str(out))
    assert result.code == 0, result.err
    if fmt == "csv":
        with out.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
    else:
        import duckdb

        con = duckdb.connect()
        rows = [dict(zip(["team", "kind", "rule", "cost"], r, strict=True)) for r in con.execute(
            f"SELECT team, kind, rule, CAST(cost AS VARCHAR) FROM '{out}'").fetchall()]
        con.close()
    per_team: dict[str, Decimal] = defaultdict(Decimal)
    for r in rows:
        per_team[r["team"]] += Decimal(r["cost"])
        if r["kind"] == "shared":
            assert r["rule"] in {rule["name"] for rule in RULES}
    answer = ask(cli, "last-month by team")
    # to the cent: each team's rows add up exactly to its group
    assert {k: float(v) for k, v in per_team.items()} == {g["key"]: g["cost"] for g in answer["groups"]}
    assert sum(per_team.values()) == Decimal(str(answer["total"]))
    assert all(len(r["cost"].partition(".")[2]) == 2 for r in rows)
    assert load_config(None).currency == "USD"


def test_show_shared_in_slack(alloc_env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os

    from tests.integration.conftest import SECRET
    from tests.integration.test_actions import blocks_text, start_bot
    from tests.signing import actions_body, command_body, post

    _, shared, _ = expected(alloc_env)
    config = yaml.safe_load(Path(os.environ["COSTBOT_CONFIG"]).read_text())
    (tmp_path / "bot").mkdir()
    bot, server = start_bot(tmp_path / "bot", Path(os.environ["COSTBOT_DATA_DIR"]), config)
    try:
        post(bot.events_url, command_body("team-ml last-month", bot.stub.response_url("q")), SECRET)
        bot.stub.wait_for(lambda cs: any(c.name == "q" for c in cs))
        blocks = bot.stub.responses("q")[0].args["blocks"]
        assert "includes $" in blocks_text(blocks) and "of shared costs" in blocks_text(blocks)
        show = next(e for b in blocks if b["type"] == "actions" for e in b["elements"]
                    if e["action_id"] == "costbot_show_shared")
        post(bot.events_url, actions_body("costbot_show_shared", show["value"], bot.stub.response_url("s")), SECRET)
        bot.stub.wait_for(lambda cs: any(c.name == "s" for c in cs))
        text = blocks_text(bot.stub.responses("s")[0].args["blocks"])
        for rule in ("shared-network", "transfer", "cluster", "leftovers"):
            assert f"rule *{rule}*: ${shared[rule]['team-ml']:,.2f}" in text
    finally:
        server.close()
        bot.stub.stop()
