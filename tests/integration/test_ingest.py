"""Ingest through the CLI: format variations, all-or-nothing rejection, replacement on re-ingest."""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.billing import write_cur2_parquet
from tests.conftest import CliResult

HEADER = ["ChargePeriodStart", "ChargePeriodEnd", "BilledCost", "EffectiveCost", "ServiceName", "SubAccountId",
          "BillingAccountId", "ProviderName", "Tags", "x_CustomThing"]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", newline="", encoding="utf-8") as fh:  # type: ignore[operator]
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def fingerprint(data_dir: Path) -> tuple[object, ...]:
    db = data_dir / "costs.duckdb"
    if not db.exists():
        return ("empty",)
    con = duckdb.connect(str(db), read_only=True)
    try:
        row = con.execute("SELECT count(*), sum(EffectiveCost), sum(BilledCost), max(x_IngestedAt), "
                          "string_agg(ResourceId, ',' ORDER BY ResourceId) FROM costs").fetchone()
        assert row is not None
        return tuple(row)
    finally:
        con.close()


def ask_json(cli: Callable[..., CliResult], text: str) -> dict:  # type: ignore[type-arg]
    result = cli("ask", text, "--json")
    assert result.code == 0, result.err
    return result.json()


VARIED_ROWS = [
    # timestamps with space, with T and Z, with an offset, as M/D/YY; nulls as NULL and empty
    ["2026-03-01 00:00:00", "2026-03-02 00:00:00", "10.25", "8.125", "Amazon SageMaker", "A1", "B1", "AWS",
     '{"team": "ml", "Cost Center": "cc:42"}', "x"],
    ["2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z", "5.5", "NULL", "Amazon S3", "A1", "B1", "AWS",
     '{"TEAM": "ml", " project": "fraud"}', ""],
    ["2026-03-03T02:00:00+02:00", "", "1.000000001", "1.000000001", "Amazon S3", "A2", "B1", "AWS", "", "NULL"],
    ["3/4/26", "3/5/26", "0.10", "0.10", "AWS Lambda", "", "B1", "AWS", "NULL", "y"],
]


def test_focus_csv_variations(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    # columns in a different order from the spec, an extra x_ column, an extra provider column
    header = [*HEADER, "ProviderSpecific"]
    order = [8, 0, 3, 1, 2, 4, 5, 6, 7, 9, 10]
    rows = [[([*r, "p"])[i] for i in order] for r in VARIED_ROWS]
    path = write_csv(tmp_path / "in" / "focus.csv", [header[i] for i in order], rows)
    result = cli("ingest", str(path))
    assert result.code == 0, result.err
    assert "4" in result.out and "2026-03-01 – 2026-03-04" in result.out

    # EffectiveCost falls back to nothing (NULL -> 0), BilledCost exact to 9 decimals
    whole = ask_json(cli, "2026-03")
    assert whole["total"] == float((Decimal("8.125") + Decimal("0") + Decimal("1.000000001")
                                    + Decimal("0.10")).quantize(Decimal("0.01")))
    billed = ask_json(cli, "2026-03 billed")
    assert billed["total"] == float((Decimal("10.25") + Decimal("5.5") + Decimal("1.000000001")
                                     + Decimal("0.10")).quantize(Decimal("0.01")))
    # the offset timestamp is 2026-03-03 00:00 UTC
    assert ask_json(cli, "2026-03-03 billed")["total"] == 1.0
    # the M/D/YY date is March 4th
    assert ask_json(cli, "2026-03-04 billed")["total"] == 0.1
    # tag keys match case-insensitively; a key with a leading space and colons in values survive
    team = ask_json(cli, "team:ml 2026-03 billed")
    assert team["total"] == 15.75
    by_cc = ask_json(cli, "2026-03 billed by \"Cost Center\"")
    assert {g["key"]: g["cost"] for g in by_cc["groups"]} == {"cc:42": 10.25, "(untagged)": 6.6}
    untagged = ask_json(cli, "untagged 2026-03 billed")
    assert untagged["total"] == 1.1


def test_gzip_and_parquet_with_map_tags(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    gz = write_csv(tmp_path / "a.csv.gz", HEADER, VARIED_ROWS[:2])
    pq = tmp_path / "b.parquet"
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT TIMESTAMP '2026-04-01 00:00:00' AS ChargePeriodStart,
        TIMESTAMP '2026-04-02 00:00:00' AS ChargePeriodEnd, CAST(12.34 AS DOUBLE) AS BilledCost,
        CAST(12.34 AS DOUBLE) AS EffectiveCost, 'Amazon EC2' AS ServiceName, 'B2' AS BillingAccountId,
        MAP {{'team': 'vision', 'model': 'yolo'}} AS Tags) TO '{pq}' (FORMAT parquet)""")
    con.close()
    result = cli("ingest", str(gz), str(pq))
    assert result.code == 0, result.err
    assert ask_json(cli, "2026-03 billed")["total"] == 15.75
    answer = ask_json(cli, "2026-04 by model")
    assert answer["groups"] == [{"key": "yolo", "cost": 12.34}]


def test_column_set_changes_between_months(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    write_csv(tmp_path / "m" / "2026-01.csv", ["ChargePeriodStart", "BilledCost"], [["2026-01-05", "1.00"]])
    write_csv(tmp_path / "m" / "2026-02.csv", ["Tags", "EffectiveCost", "ChargePeriodStart", "RegionId"],
              [['{"team":"ml"}', "2.00", "2026-02-05", "eu-west-1"]])
    assert cli("ingest", str(tmp_path / "m")).code == 0
    assert ask_json(cli, "2026-01..2026-02-28".replace("2026-01", "2026-01-01"))["total"] == 3.0
    assert ask_json(cli, "region:EU-WEST-1 2026-02")["total"] == 2.0


def _cur_csv(path: Path, cost: str = "3.50") -> Path:
    header = ["identity/LineItemId", "bill/PayerAccountId", "bill/BillingPeriodStartDate", "lineItem/UsageAccountId",
              "lineItem/LineItemType", "lineItem/UsageStartDate", "lineItem/UsageEndDate", "lineItem/ProductCode",
              "lineItem/UsageType", "lineItem/UnblendedCost", "lineItem/CurrencyCode", "product/ProductName",
              "product/regionCode", "pricing/publicOnDemandCost", "reservation/EffectiveCost",
              "savingsPlan/SavingsPlanEffectiveCost", "resourceTags/user:Cost Center", "resourceTags/user:team",
              "lineItem/ResourceId"]
    rows = [
        ["1", "999", "2026-05-01T00:00:00.000Z", "111", "Usage", "2026-05-02T00:00:00Z", "2026-05-02T01:00:00Z",
         "AmazonEC2", "BoxUsage:g5.xlarge", cost, "USD", "Amazon Elastic Compute Cloud", "us-east-1", "4.00", "",
         "", "cc-1", "ml", "i-1"],
        ["2", "999", "2026-05-01T00:00:00.000Z", "111", "DiscountedUsage", "2026-05-02T00:00:00Z",
         "2026-05-02T01:00:00Z", "AmazonEC2", "BoxUsage:p4d", "0", "USD", "Amazon Elastic Compute Cloud",
         "us-east-1", "30.00", "18.25", "", "", "vision", "i-2"],
        ["3", "999", "2026-05-01T00:00:00.000Z", "111", "SavingsPlanCoveredUsage", "2026-05-03T00:00:00Z",
         "2026-05-03T01:00:00Z", "AmazonSageMaker", "ml.g5", "2.00", "USD", "Amazon SageMaker", "us-east-1",
         "2.00", "", "1.40", "", "", "ep-1"],
        ["4", "999", "2026-05-01T00:00:00.000Z", "111", "SavingsPlanNegation", "2026-05-03T00:00:00Z",
         "2026-05-03T01:00:00Z", "AmazonSageMaker", "ml.g5", "-2.00", "USD", "Amazon SageMaker", "us-east-1",
         "", "", "", "", "", "ep-1"],
        ["5", "999", "2026-05-01T00:00:00.000Z", "111", "Tax", "2026-05-01T00:00:00Z", "2026-06-01T00:00:00Z",
         "AmazonEC2", "", "0.70", "USD", "Amazon Elastic Compute Cloud", "", "", "", "", "", "", ""],
    ]
    return write_csv(path, header, rows)


def test_legacy_cur_csv_mapping(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    path = _cur_csv(tmp_path / "cur.csv")
    assert cli("ingest", str(path)).code == 0
    eff = ask_json(cli, "2026-05")
    # effective: 3.50 + 18.25 (RI effective) + 1.40 (SP effective) + 0 (negation) + 0.70 (tax)
    assert eff["total"] == 23.85
    billed = ask_json(cli, "2026-05 billed")
    assert billed["total"] == 4.20  # 3.50 + 0 + 2.00 - 2.00 + 0.70
    by_cc = ask_json(cli, "2026-05 by \"cost center\"")
    assert {g["key"]: g["cost"] for g in by_cc["groups"]} == {"(untagged)": 20.35, "cc-1": 3.5}
    vision = ask_json(cli, "team:vision 2026-05")
    assert vision["total"] == 18.25


def test_cur2_parquet_with_resource_tags_map(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    pq = write_cur2_parquet(tmp_path / "cur2.parquet", """
        ('999', '111', TIMESTAMP '2026-06-01', 'Usage', TIMESTAMP '2026-06-10 00:00', TIMESTAMP '2026-06-10 01:00',
         'AmazonS3', 1.25::DOUBLE, 'USD', 'Amazon Simple Storage Service',
         MAP {'user_team': 'data', 'user_project': 'etl', 'aws_createdBy': 'x'}),
        ('999', '111', TIMESTAMP '2026-06-01', 'Usage', TIMESTAMP '2026-06-11 00:00', TIMESTAMP '2026-06-11 01:00',
         'AmazonS3', 0.75::DOUBLE, 'USD', 'Amazon Simple Storage Service', MAP {'user_team': ''})""")
    assert cli("ingest", str(pq)).code == 0
    answer = ask_json(cli, "2026-06 by project")
    assert {g["key"]: g["cost"] for g in answer["groups"]} == {"etl": 1.25, "(untagged)": 0.75}
    assert answer["untagged_cost"] == 0.75
    assert ask_json(cli, "team-data 2026-06")["total"] == 1.25


BAD_CASES = {
    "text-in-cost": (HEADER, [VARIED_ROWS[0], ["2026-03-05", "", "12,50", "1", "S", "A", "B", "AWS", "{}", ""]],
                     "row 2, column BilledCost: '12,50' is not a number"),
    "missing-start": (HEADER, [VARIED_ROWS[0], VARIED_ROWS[1], ["", "", "1", "1", "S", "A", "B", "AWS", "{}", ""]],
                      "row 3, column ChargePeriodStart: is missing"),
    "bad-timestamp": (HEADER, [["2026-13-45", "", "1", "1", "S", "A", "B", "AWS", "{}", ""]],
                      "row 1, column ChargePeriodStart: '2026-13-45' is not a timestamp"),
    "bad-tags": (HEADER, [VARIED_ROWS[0], ["2026-03-05", "", "1", "1", "S", "A", "B", "AWS", "{team: ml", ""]],
                 "row 2, column Tags: '{team: ml' is not a JSON object of tags"),
    "not-billing": (["foo", "bar"], [["1", "2"]], "not a FOCUS or AWS CUR file"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_file_is_rejected_whole_and_store_unchanged(
    cli: Callable[..., CliResult], tmp_path: Path, data_dir: Path, case: str
) -> None:
    good = write_csv(tmp_path / "good.csv", HEADER, VARIED_ROWS)
    assert cli("ingest", str(good)).code == 0
    before = fingerprint(data_dir)
    header, rows, message = BAD_CASES[case]
    # a new good file for another month in the same batch must not land either
    other = write_csv(tmp_path / "batch" / "a-other.csv", HEADER,
                      [["2026-07-01", "", "99", "99", "S", "A", "B", "AWS", "{}", ""]])
    bad = write_csv(tmp_path / "batch" / "b-bad.csv", header, rows)
    result = cli("ingest", str(other.parent))
    assert result.code == 1
    assert str(bad) in result.err.replace("\n", "")
    assert message in result.err.replace("\n", "")
    assert fingerprint(data_dir) == before


def test_truncated_files_are_rejected(cli: Callable[..., CliResult], tmp_path: Path, data_dir: Path) -> None:
    good = write_csv(tmp_path / "good.csv", HEADER, VARIED_ROWS)
    assert cli("ingest", str(good)).code == 0
    before = fingerprint(data_dir)

    text = good.read_text()
    cut = tmp_path / "cut.csv"
    cut.write_text(text[: text.rfind(",") - 3])  # the last row ends mid-way
    result = cli("ingest", str(cut))
    assert result.code == 1 and "cut.csv, row 4" in result.err.replace("\n", "")
    assert "truncated" in result.err

    gz = write_csv(tmp_path / "whole.csv.gz", HEADER, VARIED_ROWS * 50)
    broken_gz = tmp_path / "broken.csv.gz"
    broken_gz.write_bytes(gz.read_bytes()[: len(gz.read_bytes()) // 2])
    result = cli("ingest", str(broken_gz))
    assert result.code == 1 and "broken.csv.gz" in result.err.replace("\n", "")

    pq = tmp_path / "whole.parquet"
    con = duckdb.connect()
    con.execute(f"COPY (SELECT TIMESTAMP '2026-04-01' AS ChargePeriodStart, 1.0 AS BilledCost "
                f"FROM range(1000)) TO '{pq}' (FORMAT parquet)")
    con.close()
    broken_pq = tmp_path / "broken.parquet"
    broken_pq.write_bytes(pq.read_bytes()[:-100])
    result = cli("ingest", str(broken_pq))
    assert result.code == 1 and "broken.parquet" in result.err.replace("\n", "")
    assert fingerprint(data_dir) == before

    empty = tmp_path / "empty.csv"
    empty.write_text("")
    result = cli("ingest", str(empty))
    assert result.code == 1 and "empty" in result.err
    missing = cli("ingest", str(tmp_path / "nope.csv"))
    assert missing.code == 1 and "no such file or folder" in missing.err
    assert fingerprint(data_dir) == before


def test_reingest_replaces_instead_of_double_counting(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "f.csv", HEADER, VARIED_ROWS)
    assert cli("ingest", str(path)).code == 0
    first = ask_json(cli, "2026-03 billed")
    assert cli("ingest", str(path)).code == 0
    assert ask_json(cli, "2026-03 billed") == first
    # a restated export of the same month (other file name) replaces the month
    restated = [list(r) for r in VARIED_ROWS]
    restated[0][2] = "20.25"
    assert cli("ingest", str(write_csv(tmp_path / "f-v2.csv", HEADER, restated))).code == 0
    assert ask_json(cli, "2026-03 billed")["total"] == round(first["total"] + 10, 2)
    # the same billing account and month under another source label would count it twice: refused
    refused = cli("ingest", str(path), "--source", "other")
    assert refused.code == 1 and "already held under source 'focus'" in refused.err
    assert ask_json(cli, "2026-03 billed")["total"] == round(first["total"] + 10, 2)


def test_tags_json_roundtrip_keeps_odd_keys(cli: Callable[..., CliResult], tmp_path: Path, data_dir: Path) -> None:
    tags = {"team": "ml", "Cost Center:Sub": "a b", "kubernetes.io/cluster": "c1", "ÜmlautKey": "ü"}
    write_csv(tmp_path / "t.csv", ["ChargePeriodStart", "BilledCost", "Tags"], [["2026-08-01", "1", json.dumps(tags)]])
    assert cli("ingest", str(tmp_path / "t.csv")).code == 0
    con = duckdb.connect(str(data_dir / "costs.duckdb"), read_only=True)
    stored = con.execute("SELECT Tags FROM costs").fetchone()
    con.close()
    assert stored is not None and dict(stored[0]) == tags
    assert ask_json(cli, '"kubernetes.io/cluster":c1 2026-08')["total"] == 1.0
