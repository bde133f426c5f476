"""Billing sources against moto in server mode: Cost Explorer (seeded results, paging), S3 exports with
manifests (ETags, replacement of a changed period), failures that leave the store as it was."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import duckdb
import pytest
import yaml

from tests.conftest import CliResult


def seed_ce(moto_url: str, results: list[dict[str, Any]]) -> None:
    req = urllib.request.Request(f"{moto_url}/moto-api/static/ce/cost-and-usage-results",
                                 data=json.dumps({"results": results}).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    assert urllib.request.urlopen(req, timeout=10).status == 201


def ce_day(day: str, groups: list[tuple[str, str, str, str]]) -> dict[str, Any]:
    nxt = f"{day[:8]}{int(day[8:]) + 1:02d}"
    return {"TimePeriod": {"Start": day, "End": nxt}, "Estimated": False, "Total": {}, "Groups": [
        {"Keys": [service, tag], "Metrics": {"AmortizedCost": {"Amount": amortized, "Unit": "USD"},
                                             "UnblendedCost": {"Amount": unblended, "Unit": "USD"}}}
        for service, tag, amortized, unblended in groups]}


@pytest.fixture
def with_config(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, Any]], None]:
    def write(config: dict[str, Any]) -> None:
        path = tmp_path / "costbot.yml"
        path.write_text(yaml.safe_dump({"teams": {"team-ml": {"tags": {"team": "ml"}}}, **config}))
        monkeypatch.setenv("COSTBOT_CONFIG", str(path))

    return write


def ask(cli: Callable[..., CliResult], text: str) -> dict[str, Any]:
    result = cli("ask", text, "--json")
    assert result.code == 0, result.err
    return result.json()


def test_cost_explorer_sync_pages_maps_and_replaces(aws: Any, moto_server: Any, cli, with_config) -> None:  # type: ignore[no-untyped-def]
    _, moto_url = moto_server
    page1 = {"ResultsByTime": [ce_day("2026-11-01", [("Amazon EC2", "team$ml", "10.25", "12.50"),
                                                     ("Amazon S3", "team$", "1.005", "1.005")])],
             "NextPageToken": "page-2", "GroupDefinitions": [], "DimensionValueAttributes": []}
    page2 = {"ResultsByTime": [ce_day("2026-11-02", [("Amazon EC2", "team$ml", "7.10", "7.10"),
                                                     ("Amazon SageMaker", "team$data", "3.333333", "4.00")])],
             "GroupDefinitions": [], "DimensionValueAttributes": []}
    seed_ce(moto_url, [page1, page2])
    with_config({"sources": [{"kind": "cost_explorer", "name": "ce"}]})
    result = cli("sync")
    assert result.code == 0, result.err
    assert "ce: 4 daily rows; 4 rows ingested (GetCallerIdentity 1, GetCostAndUsage 2)" in result.out
    assert aws.counts["GetCostAndUsage"] == 2
    total = ask(cli, "2026-11-01..2026-11-02")
    assert total["total"] == float((Decimal("10.25") + Decimal("1.005") + Decimal("7.10") + Decimal("3.333333"))
                                   .quantize(Decimal("0.01")))
    assert ask(cli, "2026-11-01..2026-11-02 billed")["total"] == 24.61
    assert ask(cli, "team-ml 2026-11-01..2026-11-02")["total"] == 17.35
    assert ask(cli, "untagged 2026-11-01..2026-11-02")["untagged_cost"] == 1.01
    by = {g["key"]: g["cost"] for g in ask(cli, "2026-11-01..2026-11-02 by team")["groups"]}
    assert by == {"team-ml": 17.35, "(untagged)": 4.34}
    # a second sync re-reads the same window and replaces it: no double counting
    assert cli("sync").code == 0
    assert ask(cli, "2026-11-01..2026-11-02 billed")["total"] == 24.61


def _focus_parquet(rows: list[tuple[str, str, str]]) -> bytes:
    con = duckdb.connect()
    values = ", ".join(f"(TIMESTAMP '{d}', {c}::DOUBLE, '{t}', '111122223333')" for d, c, t in rows)
    path = Path(con.execute("SELECT current_setting('temp_directory')").fetchone()[0] or "/tmp") / "x.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"COPY (SELECT v.d AS ChargePeriodStart, v.c AS BilledCost, v.c AS EffectiveCost, "
                f"'Amazon EC2' AS ServiceName, json_object('team', v.t) AS Tags, v.a AS BillingAccountId "
                f"FROM (VALUES {values}) v(d, c, t, a)) TO '{path}' (FORMAT parquet)")
    con.close()
    return path.read_bytes()


def put_export(s3: Any, bucket: str, period: str, files: dict[str, bytes]) -> None:
    keys = []
    for name, body in files.items():
        key = f"exports/focus/data/BILLING_PERIOD={period}/{name}"
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        keys.append(f"s3://{bucket}/{key}")
    manifest = {"billingPeriod": {"start": f"{period.replace('-', '')}01T000000.000Z"}, "dataFiles": keys}
    s3.put_object(Bucket=bucket, Key=f"exports/focus/metadata/BILLING_PERIOD={period}/focus-Manifest.json",
                  Body=json.dumps(manifest).encode())


def test_s3_export_sync_by_manifest_and_etag(aws: Any, cli, with_config, data_dir) -> None:  # type: ignore[no-untyped-def]
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="billing")
    put_export(s3, "billing", "2026-10", {"part-0.parquet": _focus_parquet([("2026-10-05", "10.10", "ml")])})
    put_export(s3, "billing", "2026-11", {"part-0.parquet": _focus_parquet([("2026-11-03", "5.05", "ml")]),
                                          "part-1.parquet": _focus_parquet([("2026-11-04", "2.00", "data")])})
    with_config({"sources": [{"kind": "s3_export", "name": "exports", "bucket": "billing", "prefix": "exports/"}]})
    first = cli("sync", "--since", "2026-10")
    assert first.code == 0, first.err
    assert "exports: 2026-10, 2026-11; 3 rows ingested" in first.out
    assert ask(cli, "2026-10-01..2026-11-30")["total"] == 17.15
    # nothing changed: nothing is downloaded
    again = cli("sync", "--since", "2026-10")
    assert "exports: no changes; 0 rows ingested (GetObject 2, ListObjectsV2 1)" in again.out  # manifests only
    # November is re-delivered with a restated figure: November is replaced, October kept
    put_export(s3, "billing", "2026-11", {"part-0.parquet": _focus_parquet([("2026-11-03", "6.05", "ml")]),
                                          "part-1.parquet": _focus_parquet([("2026-11-04", "2.00", "data")])})
    third = cli("sync", "--since", "2026-10")
    assert "exports: 2026-11;" in third.out
    assert ask(cli, "2026-10")["total"] == 10.10
    assert ask(cli, "2026-11")["total"] == 8.05


def test_failing_source_leaves_the_store_as_it_was(aws: Any, cli, with_config, data_dir) -> None:  # type: ignore[no-untyped-def]
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="billing")
    put_export(s3, "billing", "2026-10", {"part-0.parquet": _focus_parquet([("2026-10-05", "10.10", "ml")])})
    with_config({"sources": [{"kind": "s3_export", "name": "exports", "bucket": "billing", "prefix": "exports/"}]})
    assert cli("sync", "--since", "2026-10").code == 0
    # a manifest that lists a file that is not there (a delivery in progress)
    manifest = {"billingPeriod": {"start": "20261001T000000.000Z"},
                "dataFiles": ["s3://billing/exports/focus/data/BILLING_PERIOD=2026-10/part-9.parquet"]}
    s3.put_object(Bucket="billing", Key="exports/focus/metadata/BILLING_PERIOD=2026-10/focus-Manifest.json",
                  Body=json.dumps(manifest).encode())
    failed = cli("sync", "--since", "2026-10")
    assert failed.code == 1
    assert "part-9.parquet is listed in the 2026-10 manifest but not in the bucket" in failed.err.replace("\n", "")
    assert ask(cli, "2026-10")["total"] == 10.10


def test_sources_check_names_missing_access(aws: Any, cli, with_config) -> None:  # type: ignore[no-untyped-def]
    with_config({"sources": [{"kind": "s3_export", "name": "exports", "bucket": "no-such-bucket"},
                             {"kind": "cost_explorer", "name": "ce"}]})
    result = cli("sources", "check")
    assert result.code == 1
    text = result.err.replace("\n", " ")
    assert "exports (s3_export): needs s3:ListBucket, s3:GetObject, sts:GetCallerIdentity" in text
    assert "NoSuchBucket" in text
    assert "✓ ce (cost_explorer)" in result.out


def test_a_local_folder_that_cannot_be_read_fails_the_sync(cli, with_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`sources check` and `sync` agree: a folder source that is gone is an error (exit 1), not "no changes"."""
    with_config({"sources": [{"kind": "focus_files", "name": "local", "path": str(tmp_path / "nowhere")}]})
    checked = cli("sources", "check")
    assert checked.code == 1 and "does not exist" in checked.err
    synced = cli("sync")
    assert synced.code == 1, synced.out
    assert "✓" not in synced.out and "no changes" not in synced.out
    assert "✗ local: cannot read source 'local':" in synced.err and "nowhere does not exist" in synced.err
    (tmp_path / "nowhere").mkdir()
    assert cli("sync").code == 0  # an empty folder is readable: nothing to ingest yet
