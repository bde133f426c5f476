"""No silent double counting across sources: an ingest or a sync that carries billing account-months another
source holds is refused (naming it and how to replace it) unless the sources are declared complementary; and
`costbot sources list` / `/cost sources` say what each source holds. Figures against plain Python over the CSV."""

from __future__ import annotations

import csv
import json
import shutil
import uuid
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.demo import write_demo_csv
from tests.conftest import TODAY, CliResult
from tests.integration.conftest import SECRET, RunningBot
from tests.integration.test_ask_demo import cents, total
from tests.integration.test_slack_http import texts
from tests.signing import command_body, post

Row = dict[str, str]


@pytest.fixture
def demo_csv(tmp_path: Path) -> tuple[Path, list[Row]]:
    path = tmp_path / "focus-demo.csv"
    write_demo_csv(path, date.fromisoformat(TODAY), days=70)
    with path.open(newline="") as fh:
        return path, list(csv.DictReader(fh))


def ask_total(cli: Callable[..., CliResult], text: str) -> float:
    result = cli("ask", text, "--json")
    assert result.code == 0, result.err
    return float(result.json()["total"])


def test_the_same_bill_under_another_label_is_refused(cli, demo_csv) -> None:  # type: ignore[no-untyped-def]
    path, rows = demo_csv
    assert cli("ingest", str(path), "--source", "demo").code == 0
    expected = cents(total(rows, "2026-10-01", "2026-11-01"))
    assert ask_total(cli, "last-month") == expected

    again = cli("ingest", str(path))  # the default label, `focus`
    assert again.code == 1
    message = " ".join(again.err.split())
    assert "billing account 111122223333, 2026-09 – 2026-11 (3 months), is already held under source 'demo'" in message
    assert "`--replace-source demo`" in message and "`--source demo`" in message
    assert ask_total(cli, "last-month") == expected  # not doubled; nothing changed

    replaced = cli("ingest", str(path), "--replace-source", "demo")
    assert replaced.code == 0, replaced.err
    assert ask_total(cli, "last-month") == expected  # the bill once, now under `focus`
    listing = " ".join(cli("sources", "list").out.split())
    assert "focus" in listing and "demo" not in listing


def test_sources_list_says_what_each_source_holds(cli, demo_csv, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path, rows = demo_csv
    extra = tmp_path / "other"
    extra.mkdir()
    (extra / "ce.csv").write_text(
        "BillingAccountId,SubAccountId,ChargePeriodStart,BilledCost,EffectiveCost,ServiceName,Tags\n"
        '999988887777,999988887777,2026-11-02,12.5,10.25,Amazon S3,"{}"\n'
        '999988887777,999988887777,2026-10-30,1,1,Amazon S3,"{}"\n')
    config = tmp_path / "costbot.yml"
    config.write_text(yaml.safe_dump({"sources": [{"kind": "focus_files", "name": "other", "path": str(extra)}]}))
    monkeypatch.setenv("COSTBOT_CONFIG", str(config))
    assert cli("ingest", str(path), "--source", "demo").code == 0
    assert cli("sync").code == 0
    monkeypatch.setenv("COLUMNS", "200")
    listing = cli("sources", "list").out
    demo_line = next(line for line in listing.splitlines() if line.strip().startswith("demo"))
    effective = sum((Decimal(r["EffectiveCost"]) for r in rows), Decimal(0))
    billed = sum((Decimal(r["BilledCost"]) for r in rows), Decimal(0))
    assert "111122223333" in demo_line and "2026-09 – 2026-11 (3 months)" in demo_line
    assert f"{len(rows):,}" in demo_line
    assert f"${cents(effective):,.2f}" in demo_line and f"${cents(billed):,.2f}" in demo_line
    other_line = next(line for line in listing.splitlines() if line.strip().startswith("other"))
    assert "999988887777" in other_line and "2026-10 – 2026-11 (2 months)" in other_line and "$11.25" in other_line
    assert "synced 20" in other_line and "(costbot.yml)" in other_line


def _sync_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **source: Any) -> Path:
    folder = tmp_path / "support"
    folder.mkdir(exist_ok=True)
    (folder / "support.csv").write_text(  # a support fee in the demo's billing account and month
        "BillingAccountId,SubAccountId,ChargePeriodStart,ChargeCategory,BilledCost,EffectiveCost,ServiceName,Tags\n"
        '111122223333,210987654321,2026-11-01,Purchase,400,400,AWS Support (Business),"{}"\n')
    config = tmp_path / "costbot.yml"
    config.write_text(yaml.safe_dump({"sources": [{"kind": "focus_files", "name": "support", "path": str(folder),
                                                   **source}]}))
    monkeypatch.setenv("COSTBOT_CONFIG", str(config))
    return folder


def test_a_sync_that_overlaps_another_source_fails_that_source(cli, demo_csv, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path, rows = demo_csv
    _sync_config(tmp_path, monkeypatch)
    assert cli("ingest", str(path), "--source", "demo").code == 0
    synced = cli("sync")
    assert synced.code == 1
    assert "is already held under source 'demo'" in " ".join(synced.err.split())
    assert ask_total(cli, "2026-11") == cents(total(rows, "2026-11-01", "2026-12-01"))  # the store as it was


def test_complementary_sources_may_share_an_account_month(cli, demo_csv, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path, rows = demo_csv
    _sync_config(tmp_path, monkeypatch, complements=["demo"])
    assert cli("ingest", str(path), "--source", "demo").code == 0
    synced = cli("sync")
    assert synced.code == 0, synced.err
    assert ask_total(cli, "2026-11") == cents(total(rows, "2026-11-01", "2026-12-01") + Decimal(400))
    assert cli("ingest", str(path), "--source", "demo").code == 0  # and the other way round
    assert ask_total(cli, "2026-11") == cents(total(rows, "2026-11-01", "2026-12-01") + Decimal(400))


def test_slash_sources_is_for_admins(bot: RunningBot, demo_store: tuple[Path, Path]) -> None:
    with demo_store[1].open(newline="") as fh:
        rows = list(csv.DictReader(fh))

    def ask(user: str) -> str:
        rid = f"s{uuid.uuid4().hex[:8]}"
        post(bot.events_url, command_body("sources", bot.stub.response_url(rid), user_id=user), SECRET)
        bot.stub.wait_for(lambda cs: any(c.kind == "response" and c.name == rid for c in cs))
        return texts(bot.stub.responses(rid)[0].args["blocks"])

    admin = ask("U0ADMIN01")
    assert f"*demo*: {len(rows):,} rows" in admin and "111122223333" in admin
    assert "2026-06 – 2026-11 (6 months)" in admin
    refused = ask("U0ML00001")
    assert "only admins can list the billing sources" in refused and "111122223333" not in refused


def test_the_demo_file_ingested_again_by_hand(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The reported case: `costbot demo`, then `costbot ingest` of its own file under the default label."""
    assert cli("demo", "--days", "30").code == 0
    before = ask_total(cli, "last-week")
    csv_path = next((tmp_path / "data" / "demo").glob("*.csv"))
    copy = tmp_path / "again.csv"
    shutil.copy(csv_path, copy)
    refused = cli("ingest", str(copy))
    assert refused.code == 1 and "already held under source 'demo'" in refused.err
    assert ask_total(cli, "last-week") == before
    assert json.loads(cli("ask", "last-week", "--json").out)["total"] == before
