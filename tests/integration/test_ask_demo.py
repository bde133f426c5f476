"""End to end: `costbot demo` data, `costbot ask --json`, figures checked against plain Python over the CSV."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from tests.conftest import CliResult

Row = dict[str, str]
TEAMS = {"team-ml": "ml", "team-vision": "vision", "team-search": "search", "team-data": "data",
         "team-platform": "platform"}

# (word, start, end, previous start, previous end) for today = 2026-11-28 with billing data through 2026-11-27,
# worked out by hand: periods that run to today are cut at the data's last day, and so are their comparisons
WINDOWS = [
    ("yesterday", "2026-11-27", "2026-11-28", "2026-11-26", "2026-11-27"),
    ("this-week", "2026-11-23", "2026-11-28", "2026-11-16", "2026-11-21"),
    ("last-week", "2026-11-16", "2026-11-23", "2026-11-09", "2026-11-16"),
    ("this-month", "2026-11-01", "2026-11-28", "2026-10-01", "2026-10-28"),
    ("mtd", "2026-11-01", "2026-11-28", "2026-10-01", "2026-10-28"),
    ("last-month", "2026-10-01", "2026-11-01", "2026-09-01", "2026-10-01"),
    ("ytd", "2026-01-01", "2026-11-28", "2025-01-01", "2025-11-28"),
    ("last-7d", "2026-11-21", "2026-11-28", "2026-11-14", "2026-11-21"),
    ("last-45d", "2026-10-14", "2026-11-28", "2026-08-30", "2026-10-14"),
    ("2026-09", "2026-09-01", "2026-10-01", "2026-08-01", "2026-09-01"),
    ("2026-Q3", "2026-07-01", "2026-10-01", "2026-04-01", "2026-07-01"),
    ("2026-11-16", "2026-11-16", "2026-11-17", "2026-11-15", "2026-11-16"),
    ("2026-10-30..2026-11-05", "2026-10-30", "2026-11-06", "2026-10-23", "2026-10-30"),
]


def cents(x: Decimal) -> float:
    return float(x.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def shown(exact: dict[str, Decimal]) -> dict[str, float]:
    """Groups as the README says they are shown, worked out here on its own: each floored to the cent, and the
    cents still missing to reach the rounded total given to the largest remainders (ties: larger group first)."""
    cent = Decimal("0.01")
    target = sum(exact.values(), Decimal(0)).quantize(cent, rounding=ROUND_HALF_UP)
    floors = {k: (v / cent).to_integral_value(rounding="ROUND_FLOOR") * cent for k, v in exact.items()}
    missing = int((target - sum(floors.values(), Decimal(0))) / cent)
    for k in sorted(exact, key=lambda k: (-(exact[k] - floors[k]), -exact[k], k))[:missing]:
        floors[k] += cent
    return {k: float(v) for k, v in floors.items()}


def day_of(row: Row) -> str:
    return row["ChargePeriodStart"][:10]


def tags(row: Row) -> dict[str, str]:
    return json.loads(row["Tags"])


def total(rows: list[Row], start: str, end: str, pred: Callable[[Row], bool] = lambda r: True,
          metric: str = "EffectiveCost") -> Decimal:
    return sum((Decimal(r[metric]) for r in rows if start <= day_of(r) < end and pred(r)), Decimal(0))


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Row]]:
    """One demo store for the module (the CLI fixture points at it through the env)."""
    import os

    from bot.app import main

    root = tmp_path_factory.mktemp("demo")
    old = {k: os.environ.get(k) for k in ("COSTBOT_DATA_DIR", "COSTBOT_TODAY", "COSTBOT_CONFIG")}
    os.environ.update({"COSTBOT_DATA_DIR": str(root / "data"), "COSTBOT_TODAY": "2026-11-28"})
    os.environ.pop("COSTBOT_CONFIG", None)
    try:
        assert main(["demo"]) == 0
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    with (root / "data" / "demo" / "focus-demo.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return root / "data", rows


@pytest.fixture
def ask(demo_env: tuple[Path, list[Row]], monkeypatch: pytest.MonkeyPatch,
        cli: Callable[..., CliResult]) -> Callable[[str], dict]:  # type: ignore[type-arg]
    monkeypatch.setenv("COSTBOT_DATA_DIR", str(demo_env[0]))

    def run(text: str) -> dict:  # type: ignore[type-arg]
        result = cli("ask", text, "--json")
        assert result.code == 0, result.err
        return result.json()

    return run


@pytest.mark.parametrize(("word", "start", "end", "pstart", "pend"), WINDOWS)
def test_every_period_word_whole_org(ask, demo_env, word, start, end, pstart, pend) -> None:  # type: ignore[no-untyped-def]
    rows = demo_env[1]
    answer = ask(word)
    assert (answer["start"], answer["end"]) == (start, end)
    assert answer["total"] == cents(total(rows, start, end))
    assert answer["previous_total"] == cents(total(rows, pstart, pend))
    assert answer["untagged_cost"] == cents(total(rows, start, end, lambda r: "team" not in tags(r)))
    assert answer["metric"] == "EffectiveCost" and answer["currency"] == "USD"


@pytest.mark.parametrize("word", ["last-week", "mtd", "last-month", "2026-Q3"])
@pytest.mark.parametrize("team", ["team-ml", "team-vision"])
def test_team_scope(ask, demo_env, word, team) -> None:  # type: ignore[no-untyped-def]
    rows = demo_env[1]
    start, end, pstart, pend = next(w[1:] for w in WINDOWS if w[0] == word)
    mine = lambda r: tags(r).get("team") == TEAMS[team]  # noqa: E731
    answer = ask(f"{team} {word}")
    assert answer["scope"] == {"team": team}
    assert answer["total"] == cents(total(rows, start, end, mine))
    assert answer["previous_total"] == cents(total(rows, pstart, pend, mine))
    assert answer["untagged_cost"] == 0.0


def test_by_team_with_untagged_group(ask, demo_env) -> None:  # type: ignore[no-untyped-def]
    rows = demo_env[1]
    answer = ask("last-month by team")
    expected: dict[str, Decimal] = defaultdict(Decimal)
    by_value = {v: k for k, v in TEAMS.items()}
    for r in rows:
        if "2026-10-01" <= day_of(r) < "2026-11-01":
            expected[by_value.get(tags(r).get("team", ""), "(untagged)")] += Decimal(r["EffectiveCost"])
    groups = {g["key"]: g["cost"] for g in answer["groups"]}
    assert groups == shown(expected)
    costs = [g["cost"] for g in answer["groups"]]
    assert costs == sorted(costs, reverse=True)
    assert groups["(untagged)"] == answer["untagged_cost"]


def test_by_service_top_n_billed(ask, demo_env) -> None:  # type: ignore[no-untyped-def]
    rows = demo_env[1]
    answer = ask("billed mtd by service top 3")
    per: dict[str, Decimal] = defaultdict(Decimal)
    for r in rows:
        if "2026-11-01" <= day_of(r) < "2026-11-29":
            per[r["ServiceName"]] += Decimal(r["BilledCost"])
    ranked = sorted(per.items(), key=lambda kv: -kv[1])
    exact = {**dict(ranked[:3]), "(other)": sum((v for _, v in ranked[3:]), Decimal(0))}
    expected = [{"key": k, "cost": c} for k, c in shown(exact).items()]
    assert answer["metric"] == "BilledCost"
    assert answer["groups"] == expected
    assert answer["total"] == cents(sum(per.values(), Decimal(0)))


def test_tag_and_service_scopes_and_dimension(ask, demo_env) -> None:  # type: ignore[no-untyped-def]
    rows = demo_env[1]
    answer = ask("project:FRAUD service:sagemaker last-30d by model")
    assert answer["scope"] == {"project": "FRAUD", "service": "Amazon SageMaker"}
    per: dict[str, Decimal] = defaultdict(Decimal)
    for r in rows:
        t = tags(r)
        if ("2026-10-29" <= day_of(r) < "2026-11-28" and t.get("project") == "fraud"
                and r["ServiceName"] == "Amazon SageMaker"):
            per[t.get("model", "(untagged)")] += Decimal(r["EffectiveCost"])
    assert {g["key"]: g["cost"] for g in answer["groups"]} == shown(per)


def test_untagged_scope_by_account_and_time_buckets(ask, demo_env) -> None:  # type: ignore[no-untyped-def]
    rows = demo_env[1]
    answer = ask("untagged last-month by account")
    per: dict[str, Decimal] = defaultdict(Decimal)
    for r in rows:
        if "2026-10-01" <= day_of(r) < "2026-11-01" and "team" not in tags(r):
            per[r["SubAccountId"]] += Decimal(r["EffectiveCost"])
    assert {g["key"]: g["cost"] for g in answer["groups"]} == shown(per)
    assert answer["total"] == answer["untagged_cost"] == cents(sum(per.values(), Decimal(0)))

    weekly = ask("team-data 2026-Q3 by month")
    assert {g["key"] for g in weekly["groups"]} == {"2026-07", "2026-08", "2026-09"}
    daily = ask("2026-11-01..2026-11-03 by day")
    assert {g["key"]: g["cost"] for g in daily["groups"]} == shown({
        d: total(rows, d, f"2026-11-0{int(d[-1]) + 1}") for d in ("2026-11-01", "2026-11-02", "2026-11-03")
    })


def test_region_account_resource_scopes(ask, demo_env) -> None:  # type: ignore[no-untyped-def]
    rows = demo_env[1]
    rid = next(r["ResourceId"] for r in rows if r["ResourceName"] == "gpu-dev-02")
    answer = ask(f"resource:{rid} last-week")
    assert answer["total"] == cents(total(rows, "2026-11-16", "2026-11-23", lambda r: r["ResourceId"] == rid))
    answer = ask("account:310987654321 region:US-EAST-1 last-week")
    assert answer["total"] == cents(total(rows, "2026-11-16", "2026-11-23",
                                          lambda r: r["SubAccountId"] == "310987654321"))


def test_spike_and_idle_box_are_in_the_demo(demo_env) -> None:  # type: ignore[no-untyped-def]
    rows = demo_env[1]
    assert any(r["ResourceName"] == "train-vision-spike" and day_of(r) == "2026-11-16" for r in rows)
    idle = [r for r in rows if r["ResourceName"] == "gpu-dev-02"]
    assert len(idle) >= 20 and len({r["EffectiveCost"] for r in idle}) == 1  # flat: on around the clock
    assert {json.loads(r["Tags"]).get("team") for r in rows} >= {"ml", "vision", "search", "data", "platform", None}
    weekdays = total(rows, "2026-11-16", "2026-11-21") / 5
    weekend = total(rows, "2026-11-21", "2026-11-23") / 2
    assert weekend < weekdays * Decimal("0.8")  # weekly seasonality


def test_errors_and_help(demo_env, monkeypatch, cli) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COSTBOT_DATA_DIR", str(demo_env[0]))
    bad = cli("ask", "team-ml lastweek")
    assert bad.code == 2
    assert "unknown word 'lastweek'" in bad.err and "'last-week'" in bad.err
    assert bad.out == ""
    unknown_service = cli("ask", "service:nosuchthing")
    assert unknown_service.code == 2 and "no service matches 'nosuchthing'" in unknown_service.err
    ambiguous = cli("ask", "service:amazon")
    assert ambiguous.code == 2 and "matches several services" in ambiguous.err
    helped = cli("ask", "help")
    assert helped.code == 0 and "by DIMENSION" in helped.out and "team-vision" in helped.out


def test_terminal_answer_and_chart(demo_env, monkeypatch, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    monkeypatch.setenv("COSTBOT_DATA_DIR", str(demo_env[0]))
    png = tmp_path / "c.png"
    result = cli("ask", "team-ml", "last-month", "by", "project", "--chart", str(png))
    assert result.code == 0, result.err
    assert "team-ml · last-month (2026-10-01 – 2026-10-31)" in result.out
    assert "fraud" in result.out and "recsys" in result.out
    assert "billing data through 2026-11-27" in result.out
    with Image.open(png) as img:
        assert img.format == "PNG" and img.size == (1200, 600)


def test_empty_store_says_how_to_fill_it(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("ask", "last-week")
    assert result.code == 1
    assert "no billing data yet" in result.err and "costbot demo" in result.err


def test_a_chart_path_is_printed_as_text(demo_env, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A path that looks like Rich markup is shown as it is, not interpreted."""
    monkeypatch.setenv("COSTBOT_DATA_DIR", str(demo_env[0]))
    result = cli("ask", "team-ml last-week", "--chart", "[/x].png")
    assert result.code == 0 and "Chart written to [/x].png" in result.out, result.err


def test_chart_formats_follow_the_suffix_and_top_n_applies(demo_env, monkeypatch, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bot.app import Application
    from bot.config import Settings

    monkeypatch.setenv("COSTBOT_DATA_DIR", str(demo_env[0]))
    for suffix, magic in ((".svg", b"<?xml"), (".pdf", b"%PDF-"), (".PNG", b"\x89PNG")):
        path = tmp_path / f"chart{suffix}"
        assert cli("ask", "last-30d", "--chart", str(path)).code == 0
        assert path.read_bytes().lstrip().startswith(magic)
    refused = cli("ask", "last-30d", "--chart", str(tmp_path / "chart.jpg"))
    assert refused.code == 2 and "name the file .png, .svg or .pdf" in refused.err
    assert not (tmp_path / "chart.jpg").exists()
    application = Application(Settings({"COSTBOT_DATA_DIR": str(demo_env[0]), "COSTBOT_TODAY": "2026-11-28"}))
    try:
        answers = application.use_cases.answers
        for text, keys in (("last-30d by service top 2", ("Amazon Elastic Compute Cloud",
                                                          "Amazon Simple Storage Service", "(other)")),
                           ("last-month by team", ("team-ml", "team-vision", "team-data", "(untagged)",
                                                   "team-search", "team-platform"))):
            parsed = answers.parse(text)
            series = answers.chart_series(answers.answer(parsed))  # type: ignore[arg-type]
            assert series.keys == keys
        ytd = answers.chart_series(answers.answer(answers.parse("ytd by service")))  # type: ignore[arg-type]
        assert "Savings Plans for AWS Compute usage" not in ytd.keys  # adds up to $0 amortized: not drawn
        assert ytd.bucket == "week" and ytd.partial[-1] and not ytd.partial[0]
    finally:
        application.close()


def test_terminal_output_is_not_wrapped_in_a_pipe_and_help_reads_as_words(demo_env, monkeypatch, cli) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COSTBOT_DATA_DIR", str(demo_env[0]))
    answer = cli("ask", "tags last-month")  # its lines run past 80 columns
    assert answer.code == 0
    assert "…" not in answer.out and max(len(line) for line in answer.out.splitlines()) > 80
    assert any(line.startswith("Top untagged services: ") and line.endswith("$0") for line in answer.out.splitlines())
    helped = cli("ask", "--help")
    assert "--chart FILE" in helped.out and "<bool>" not in helped.out and "<list[str]>" not in helped.out
    assert "Also write a chart to FILE: .png, .svg or .pdf." in helped.out  # one line, not split at 80


@pytest.mark.parametrize("text", ["anomalies last-30d", "budget team-ml", "tags last-month", "idle", "audit 5"])
def test_headings_in_a_pipe_are_rules_of_80(demo_env, monkeypatch, cli, text: str) -> None:  # type: ignore[no-untyped-def]
    """A heading's rule has no terminal width to fill in a pipe: it is 80 wide, not as wide as the longest line."""
    monkeypatch.setenv("COSTBOT_DATA_DIR", str(demo_env[0]))
    answer = cli("ask", text)
    assert answer.code == 0, answer.err
    rules = [line for line in answer.out.splitlines() if line.startswith("─")]
    assert all(len(line) == 80 for line in rules), [len(line) for line in rules]


def test_an_answer_without_by_says_what_drove_it_and_why_it_changed(demo_env, monkeypatch, cli) -> None:  # type: ignore[no-untyped-def]
    """Top 3 services of a team and the two largest movers, to the cent, against plain sums over the CSV."""
    monkeypatch.setenv("COSTBOT_DATA_DIR", str(demo_env[0]))
    rows = demo_env[1]

    def by_service(start: str, end: str) -> dict[str, Decimal]:
        out: dict[str, Decimal] = defaultdict(Decimal)
        for r in rows:
            if start <= day_of(r) < end and tags(r).get("team") == "ml":
                out[r["ServiceName"]] += Decimal(r["EffectiveCost"])
        return out

    now, before = by_service("2026-11-16", "2026-11-23"), by_service("2026-11-09", "2026-11-16")
    total = sum(now.values(), Decimal(0))
    top = sorted(now.items(), key=lambda kv: -kv[1])[:3]
    moved = sorted(((k, now.get(k, Decimal(0)) - before.get(k, Decimal(0))) for k in set(now) | set(before)),
                   key=lambda kv: -abs(kv[1]))[:2]
    out = cli("ask", "team-ml last-week").out
    assert "Top services: " + ", ".join(f"{k} ${cents(v):,.2f} ({v / total * 100:.1f}%)" for k, v in top) in out
    assert "Why it changed: " + ", ".join(
        f"{k} {'+' if d >= 0 else '−'}${abs(cents(d)):,.2f} ({'+' if d >= 0 else '−'}"
        f"{abs(d / before[k] * 100):.{1 if abs(d / before[k] * 100) < 10 else 0}f}%)" for k, d in moved) in out
    assert "Untagged" not in out
    org = cli("ask", "last-week").out
    assert "Top teams: team-vision " in org and "Untagged: $" in org
