"""Figures finance can trust, on the demo data, checked against plain Python over the billing CSV: comparisons
up to the data's last day, groups that add up to the total, every word checked, resources by name, real id
shapes."""

from __future__ import annotations

import csv
import re
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.app import Application
from bot.config import Settings
from bot.domain.query import Query
from bot.services.container import UseCases
from tests.conftest import TODAY, CliResult
from tests.integration.conftest import SECRET, RunningBot
from tests.integration.test_ask_demo import TEAMS, Row, cents, day_of, shown, tags, total
from tests.integration.test_slack_http import texts
from tests.signing import actions_body, command_body, post

FIRST_DAY = "2026-06-01"  # 180 days before 2026-11-28: the first day the demo store holds
DATA_THROUGH = "2026-11-27"


@pytest.fixture(scope="module")
def rows(demo_store: tuple[Path, Path]) -> list[Row]:
    with demo_store[1].open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def ask(demo_store: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
        cli: Callable[..., CliResult]) -> Callable[..., CliResult]:
    monkeypatch.setenv("COSTBOT_DATA_DIR", str(demo_store[0]))

    def run(*args: str) -> CliResult:
        return cli("ask", *args)

    return run


def ask_json(ask: Callable[..., CliResult], text: str) -> dict[str, Any]:
    result = ask(text, "--json")
    assert result.code == 0, result.err
    return result.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def use_cases(demo_store: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> UseCases:
    state = tmp_path_factory.mktemp("trust-state") / "state.db"
    return Application(Settings({"COSTBOT_DATA_DIR": str(demo_store[0]), "COSTBOT_TODAY": TODAY,
                                 "DATABASE_URL": f"sqlite:///{state}"})).use_cases


def slack_text(bot: RunningBot, text: str) -> str:
    """What a signed `/cost TEXT` gets back in Slack: the visible text of the ephemeral reply."""
    rid = f"r{uuid.uuid4().hex[:8]}"
    status, _ = post(bot.events_url, command_body(text, bot.stub.response_url(rid)), SECRET)
    assert status == 200
    bot.stub.wait_for(lambda cs: any(c.kind == "response" and c.name == rid for c in cs))
    return texts(bot.stub.responses(rid)[0].args["blocks"])


# -- 1. compare like with like, up to the data ------------------------------------------------------------------
def test_the_data_runs_through_yesterday(rows: list[Row]) -> None:
    assert max(day_of(r) for r in rows) == DATA_THROUGH and min(day_of(r) for r in rows) == FIRST_DAY


def test_mtd_compares_nov_1_27_with_oct_1_27(ask, rows) -> None:  # type: ignore[no-untyped-def]
    mine = lambda r: tags(r).get("team") == TEAMS["team-ml"]  # noqa: E731
    answer = ask_json(ask, "team-ml mtd")
    now, before = total(rows, "2026-11-01", "2026-11-28", mine), total(rows, "2026-10-01", "2026-10-28", mine)
    assert (answer["start"], answer["end"], answer["previous_start"], answer["previous_end"]) == (
        "2026-11-01", "2026-11-28", "2026-10-01", "2026-10-28")
    assert (answer["total"], answer["previous_total"]) == (cents(now), cents(before))
    assert f"{(now - before) / before * 100:.1f}" == "27.1"  # not +21.6 % against Oct 1–28
    terminal = ask("team-ml mtd")
    assert "▲ 27.1%" in terminal.out and "Nov 1–27 vs Oct 1–27; data through Nov 27" in terminal.out


def test_this_week_compares_monday_to_friday_with_monday_to_friday(ask, rows) -> None:  # type: ignore[no-untyped-def]
    answer = ask_json(ask, "this-week")
    now, before = total(rows, "2026-11-23", "2026-11-28"), total(rows, "2026-11-16", "2026-11-21")
    assert (answer["total"], answer["previous_total"]) == (cents(now), cents(before))
    assert f"{(now - before) / before * 100:.1f}" == "-34.1"  # not -38.7 % against a whole week
    assert (answer["previous_start"], answer["previous_end"]) == ("2026-11-16", "2026-11-21")


def test_ytd_is_cut_at_the_data_too(ask, rows) -> None:  # type: ignore[no-untyped-def]
    answer = ask_json(ask, "ytd")
    assert (answer["end"], answer["previous_end"]) == ("2026-11-28", "2025-11-28")
    assert answer["total"] == cents(total(rows, "2026-01-01", "2026-11-28"))
    assert answer["coverage"] == {"start": FIRST_DAY, "end": "2026-11-28", "days": 180, "of_days": 331}
    assert answer["previous_coverage"] == {"start": "2025-01-01", "end": "2025-01-01", "days": 0, "of_days": 331}
    terminal = " ".join(ask("ytd").out.split())
    assert "Jan 1 – Nov 27, 2026 vs Jan 1 – Nov 27, 2025; data through Nov 27, 2026" in terminal
    assert "the store holds no billing data of the comparison period" in terminal and "▲" not in terminal


def test_a_period_with_no_data_yet_says_so(ask, bot) -> None:  # type: ignore[no-untyped-def]
    result = ask("today")
    assert result.code == 1 and result.out == ""
    assert "no billing data yet for today (data through 2026-11-27)" in result.err
    assert "100" not in result.err
    assert "no billing data yet for today (data through 2026-11-27)" in slack_text(bot, "today")


def test_a_comparison_period_held_in_part_is_flagged(ask, rows, bot) -> None:  # type: ignore[no-untyped-def]
    answer = ask_json(ask, "2026-Q3")
    assert answer["total"] == cents(total(rows, "2026-07-01", "2026-10-01"))
    assert answer["previous_total"] == cents(total(rows, "2026-04-01", "2026-07-01"))  # only June is held
    assert answer["previous_coverage"] == {"start": "2026-06-01", "end": "2026-07-01", "days": 30, "of_days": 91}
    assert answer["coverage"] is None
    terminal = " ".join(ask("2026-Q3").out.split())
    assert "214.9%" not in terminal and "▲" not in terminal and "not a like-for-like change" in terminal
    assert "billing data only for Jun 1–30 (30 of 91 days)" in terminal
    slack = slack_text(bot, "2026-Q3")
    assert "214.9%" not in slack and "not a like-for-like change" in slack and "Jun 1–30 (30 of 91 days)" in slack
    assert ask_json(ask, "2026-Q4")["previous_coverage"] is None  # Q3 is held whole


def test_slack_says_what_was_compared(bot) -> None:  # type: ignore[no-untyped-def]
    text = slack_text(bot, "team-ml mtd")
    assert "Nov 1–27 vs Oct 1–27; data through Nov 27" in text and "27.1%" in text


# -- 2. groups add up to the total ------------------------------------------------------------------------------
GROUPED = {
    "last-30d by day": ("2026-10-29", "2026-11-28", "EffectiveCost", lambda r: day_of(r)),
    "last-week by team billed": ("2026-11-16", "2026-11-23", "BilledCost",
                                 lambda r: {v: k for k, v in TEAMS.items()}.get(tags(r).get("team", ""), "(untagged)")),
    "last-month by model": ("2026-10-01", "2026-11-01", "EffectiveCost", lambda r: tags(r).get("model", "(untagged)")),
    "ytd by month billed": ("2026-01-01", "2026-11-28", "BilledCost", lambda r: day_of(r)[:7]),
}


@pytest.mark.parametrize("text", sorted(GROUPED))
def test_json_groups_add_up_to_the_total(ask, rows, text) -> None:  # type: ignore[no-untyped-def]
    start, end, metric, key = GROUPED[text]
    exact: dict[str, Decimal] = defaultdict(Decimal)
    for r in rows:
        if start <= day_of(r) < end:
            exact[key(r)] += Decimal(r[metric])
    answer = ask_json(ask, text)
    assert answer["total"] == cents(sum(exact.values(), Decimal(0)))
    assert sum(Decimal(str(g["cost"])) for g in answer["groups"]) == Decimal(str(answer["total"]))
    assert {g["key"]: g["cost"] for g in answer["groups"]} == shown(exact)


def _amounts(text: str) -> list[Decimal]:
    return [Decimal(m.replace(",", "")) for m in re.findall(r"\$([0-9,]+\.[0-9]{2})", text)]


def test_slack_and_terminal_breakdowns_add_up_to_the_total(ask, bot) -> None:  # type: ignore[no-untyped-def]
    answer = ask_json(ask, "last-30d by day")
    breakdown = slack_text(bot, "last-30d by day").split("*By day*")[1].split(":label:")[0]
    assert sum(_amounts(breakdown)) == Decimal(str(answer["total"]))
    lines = [line for line in ask("last-30d by day").out.splitlines() if re.match(r"^2026-", line)]
    assert len(lines) == 30 and sum(_amounts("\n".join(lines))) == Decimal(str(answer["total"]))


# -- 4. every word is checked, with a suggestion ---------------------------------------------------------------
@pytest.mark.parametrize(("text", "message"), [
    ("by servce", "unknown dimension 'servce'. Did you mean 'service'?"),
    ("by projct", "unknown dimension 'projct'. Did you mean 'project'?"),
    ("by gpu", "unknown dimension 'gpu': `by` takes one of team, project, model, env, experiment, run, service"),
    ("project:frod", "no line item has project 'frod' in the billing data. Did you mean 'project:fraud'?"),
    ("projct:fraud", "no line item has a tag 'projct' in the billing data. Did you mean 'project:fraud'?"),
    ("region:eu-west-1", "no region 'eu-west-1' in the billing data. Did you mean 'region:us-east-1'?"),
    ("account:310987654322", "no account '310987654322' in the billing data. Did you mean 'account:310987654321'"),
    ("resource:gpu-dev-2", "no resource named 'gpu-dev-2' (or with that id) in the billing data. Did you mean "
                           "'resource:gpu-dev-02'?"),
    ("team-ml team-vision", "team-ml and team-vision together match no spend in the billing data: scopes AND "
                            "together"),
    ("last-weak", "unknown period 'last-weak'. Did you mean 'last-week'?"),
    ("service:sagemakr", "no service matches 'sagemakr' in the billing data. Did you mean 'service:\"Amazon "
                         "SageMaker\"'?"),
    ("team-ml lastweek", "unknown word 'lastweek'. Did you mean 'last-week'?"),
    ("idle-capacity last-month", "no shared-cluster charges in the billing data, so no workload '(idle)': "
                                 "clusters, namespaces, workloads and idle capacity come from bills that split"),
    ("namespace:ml", "no shared-cluster charges in the billing data, so no namespace 'ml'"),
])
def test_a_word_that_names_nothing_is_an_error_with_a_suggestion(ask, text, message) -> None:  # type: ignore[no-untyped-def]
    result = ask(text, "--json")
    assert result.code == 2 and result.out == ""
    assert message in " ".join(result.err.split()), result.err


def test_a_scope_with_no_spend_in_the_period_is_still_an_answer(ask) -> None:  # type: ignore[no-untyped-def]
    """gpu-dev-02 exists from 2026-10-29 on: before that it has no spend, which is an answer, not an error."""
    answer = ask_json(ask, "resource:gpu-dev-02 2026-09")
    assert (answer["total"], answer["previous_total"]) == (0.0, 0.0)


def test_tag_keys_of_the_data_are_dimensions_and_suggestions(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bill = tmp_path / "focus.csv"
    header = "BillingAccountId,ChargePeriodStart,BilledCost,EffectiveCost,ServiceName,Tags\n"
    bill.write_text(header + '1,2026-11-20,10,10,S3,"{""CostCentre"": ""cc-7""}"\n'
                    '1,2026-11-21,5,5,S3,"{""team"": ""ml""}"\n')
    assert cli("ingest", str(bill)).code == 0
    result = cli("ask", "last-30d by costcenter")
    assert result.code == 2 and "Did you mean 'CostCentre'?" in result.err
    answer = cli("ask", "last-30d by CostCentre", "--json").json()
    assert {g["key"]: g["cost"] for g in answer["groups"]} == {"cc-7": 10.0, "(untagged)": 5.0}


# -- 5. resources by name --------------------------------------------------------------------------------------
def test_resource_scope_takes_a_name_or_an_id(ask, rows) -> None:  # type: ignore[no-untyped-def]
    rid = next(r["ResourceId"] for r in rows if r["ResourceName"] == "gpu-dev-02")
    expected = cents(total(rows, "2026-11-16", "2026-11-23", lambda r: r["ResourceId"] == rid))
    assert expected > 0
    for word in ("gpu-dev-02", "GPU-DEV-02", rid, rid.rsplit("/", 1)[1]):
        answer = ask_json(ask, f"resource:{word} last-week")
        assert answer["total"] == expected and answer["scope"] == {"resource": rid}


def test_by_resource_shows_names_and_keeps_ids(ask, rows, bot, use_cases) -> None:  # type: ignore[no-untyped-def]
    mine = lambda r: tags(r).get("team") == "vision"  # noqa: E731
    exact: dict[str, Decimal] = defaultdict(Decimal)
    names = {}
    for r in rows:
        if "2026-10-29" <= day_of(r) < "2026-11-28" and mine(r):
            exact[r["ResourceId"]] += Decimal(r["EffectiveCost"])
            names[r["ResourceId"]] = r["ResourceName"]
    answer = ask_json(ask, "team-vision last-30d by resource")
    assert {g["key"]: (g["name"], g["cost"]) for g in answer["groups"]} == {
        k: (names[k], c) for k, c in shown(exact).items()}
    terminal = ask("team-vision last-30d by resource").out
    slack = slack_text(bot, "team-vision last-30d by resource")
    for name in ("train-vision-01", "train-vision-spike", "endpoint-detection", "s3-vision-images"):
        assert name in terminal and f"*{name}*" in slack
    assert "arn:aws" not in terminal and "arn:aws" not in slack
    parsed = use_cases.answers.parse("team-vision last-30d by resource")
    assert isinstance(parsed, Query)
    series = use_cases.answers.chart_series(use_cases.answers.answer(parsed))
    assert {"train-vision-01", "endpoint-detection"} <= set(series.keys)
    assert not any(k.startswith("arn:") for k in series.keys)


# -- 10. the demo data has the right shapes ---------------------------------------------------------------------
def test_each_service_has_its_real_id_shape(rows) -> None:  # type: ignore[no-untyped-def]
    shapes = {
        "Amazon Elastic Compute Cloud": r"^arn:aws:ec2:us-east-1:\d{12}:instance/i-[0-9a-f]{17}$",
        "Amazon SageMaker": r"^arn:aws:sagemaker:us-east-1:\d{12}:(endpoint|notebook-instance)/[a-z0-9-]+$",
        "Amazon Simple Storage Service": r"^[a-z0-9][a-z0-9.-]{2,62}$",
        "Amazon Elastic Block Store": r"^vol-[0-9a-f]{17}$",
        "Amazon Virtual Private Cloud": r"^nat-[0-9a-f]{17}$",
        "Amazon Elastic Kubernetes Service": r"^arn:aws:eks:us-east-1:\d{12}:cluster/[a-z0-9-]+$",
        "Amazon Athena": r"^arn:aws:athena:us-east-1:\d{12}:workgroup/[a-z0-9-]+$",
        "AWS Data Transfer": r"^$",
    }
    seen = defaultdict(set)
    for r in rows:
        if r["ServiceName"] in shapes:
            seen[r["ServiceName"]].add(r["ResourceId"])
    assert set(seen) == set(shapes)
    for service, ids in seen.items():
        assert all(re.match(shapes[service], i) for i in ids), (service, ids)
    endpoints = {r["ResourceId"] for r in rows if r["ResourceName"] == "endpoint-fraud-scoring"}
    assert endpoints == {"arn:aws:sagemaker:us-east-1:210987654321:endpoint/endpoint-fraud-scoring"}
    assert {r["ResourceId"] for r in rows if r["ResourceName"] == "s3-ml-datasets"} == {"s3-ml-datasets"}
    ec2_ids = {r["ResourceId"] for r in rows if r["ServiceName"] == "Amazon Elastic Compute Cloud"}
    assert len(ec2_ids) == len({r["ResourceName"] for r in rows if r["ServiceName"] == "Amazon Elastic Compute Cloud"})


def test_demo_resources_map_to_the_provider_kinds_by_their_ids() -> None:
    from bot.demo import demo_resources

    by_kind = {r.kind: r.resource_id for r in demo_resources()}
    assert by_kind["ec2"].split(":")[5].startswith("instance/i-")
    assert by_kind["endpoint"].split(":")[5].startswith("endpoint/")
    assert by_kind["notebook"].split(":")[5].startswith("notebook-instance/")
    assert date.fromisoformat(TODAY)  # the ids do not depend on the day


def test_slack_detail_view_gives_the_full_ids(ask, bot) -> None:  # type: ignore[no-untyped-def]
    answer = ask_json(ask, "team-vision last-30d by resource")
    rid = f"r{uuid.uuid4().hex[:8]}"
    post(bot.events_url, command_body("team-vision last-30d by resource", bot.stub.response_url(rid)), SECRET)
    bot.stub.wait_for(lambda cs: any(c.kind == "response" and c.name == rid for c in cs))
    buttons = bot.stub.responses(rid)[0].args["blocks"][-1]["elements"]
    ids = next(b for b in buttons if b["action_id"] == "costbot_show_ids")
    post(bot.events_url, actions_body("costbot_show_ids", ids["value"], bot.stub.response_url(rid + "i")), SECRET)
    bot.stub.wait_for(lambda cs: any(c.kind == "response" and c.name == rid + "i" for c in cs))
    detail = texts(bot.stub.responses(rid + "i")[0].args["blocks"])
    for g in answer["groups"]:
        assert f"*{g['name']}* — `{g['key']}`" in detail


def test_tag_compliance_names_its_resources(cli, demo_store, rows, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COSTBOT_DATA_DIR", str(demo_store[0]))
    report = cli("tags", "report", "--period", "last-month", "--json").json()
    untagged: dict[str, Decimal] = defaultdict(Decimal)
    names = {}
    for r in rows:
        if "2026-10-01" <= day_of(r) < "2026-11-01" and "team" not in tags(r):
            untagged[r["ResourceId"] or "(none)"] += Decimal(r["EffectiveCost"])
            names[r["ResourceId"] or "(none)"] = r["ResourceName"] or "(none)"
    top = sorted(untagged.items(), key=lambda kv: -kv[1])
    assert [(t["key"], t["name"]) for t in report["top_untagged_resources"]] == [(k, names[k]) for k, _ in top[:5]]
    text = cli("tags", "report", "--period", "last-month").out
    assert "legacy-batch-07" in text and "nat-gateway-prod" in text and "arn:aws" not in text


# -- 8. exports finance can open ------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_is_plain_cents_and_reconciles_with_by_team(ask, cli, tmp_path, rows, fmt) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / f"showback.{fmt}"
    result = cli("export", "--period", "last-month", "--format", fmt, "--output", str(out))
    assert result.code == 0, result.err
    if fmt == "csv":
        with out.open(newline="") as fh:
            exported = list(csv.DictReader(fh))
    else:
        import duckdb

        con = duckdb.connect()
        assert con.execute(f"SELECT typeof(cost) FROM '{out}' LIMIT 1").fetchone() == ("DECIMAL(18,2)",)
        exported = [{"team": t, "cost": c} for t, c in con.execute(f"SELECT team, CAST(cost AS VARCHAR) FROM '{out}'")
                    .fetchall()]
        con.close()
    assert exported and all(re.fullmatch(r"-?[0-9]+\.[0-9]{2}", r["cost"]) for r in exported)  # no 0E-9
    per_team: dict[str, Decimal] = defaultdict(Decimal)
    for r in exported:
        per_team[r["team"]] += Decimal(r["cost"])
    answer = ask_json(ask, "last-month by team")
    assert {k: float(v) for k, v in per_team.items()} == {g["key"]: g["cost"] for g in answer["groups"]}
    assert "(untagged)" in per_team and "(unallocated)" not in per_team  # the name `by team` gives it
    exact: dict[str, Decimal] = defaultdict(Decimal)
    by_value = {v: k for k, v in TEAMS.items()}
    for r in rows:
        if "2026-10-01" <= day_of(r) < "2026-11-01":
            exact[by_value.get(tags(r).get("team", ""), "(untagged)")] += Decimal(r["EffectiveCost"])
    assert {k: float(v) for k, v in per_team.items()} == shown(exact)


# -- 7. team digests speak of the team -------------------------------------------------------------------------
@pytest.mark.parametrize(("scope", "mine"), [
    ("team-ml", lambda t: t.get("team") == "ml"),
    ("env:prod", lambda t: t.get("env") == "prod"),
    ("", lambda t: True),
])
def test_weekly_digest_compliance_is_of_the_digests_scope(use_cases, rows, scope, mine) -> None:  # type: ignore[no-untyped-def]
    from bot.render.digest_blocks import digest_blocks
    from tests.integration.test_slack_http import texts as block_texts

    digest = use_cases.digests.build(scope, "weekly")
    week = lambda r: "2026-11-16" <= day_of(r) < "2026-11-23" and mine(tags(r))  # noqa: E731
    spend = total(rows, "2026-11-16", "2026-11-23", lambda r: mine(tags(r)))
    untagged = total(rows, "2026-11-16", "2026-11-23", lambda r: week(r) and "team" not in tags(r))
    report = digest.compliance
    assert (report.total, report.untagged) == (spend, untagged)
    assert digest.week_total == spend
    text = block_texts([b.to_dict() for b in digest_blocks(digest)])
    section = text.split("*Tag compliance this week*")[1]
    assert f"of ${cents(spend):,.2f}" in section.split("\n")[1]
    if scope == "team-ml":  # the team's untagged share is 0 %, in the section as in the footer
        assert untagged == 0 and "(*0.0%*" in section and "Untagged this month: 0.0%" in text
    if scope == "env:prod":
        assert untagged > 0 and "nat-gateway-prod" in section


def test_weekly_digest_breakdowns_add_up(use_cases) -> None:  # type: ignore[no-untyped-def]
    from bot.render.digest_blocks import digest_blocks
    from tests.integration.test_slack_http import texts as block_texts

    digest = use_cases.digests.build("", "weekly")
    text = block_texts([b.to_dict() for b in digest_blocks(digest)])
    for name in ("project", "model"):
        part = text.split(f"*By {name}*")[1].split("*By ")[0].split("*Tag compliance")[0]
        figures = [Decimal(m.replace(",", "")) for m in re.findall(r"\* \$([0-9,]+\.[0-9]{2})", part)]
        figures += [Decimal(m.replace(",", "")) for m in re.findall(r"more\) \$([0-9,]+\.[0-9]{2})", part)]
        assert sum(figures) == Decimal(str(cents(digest.week_total))), name
