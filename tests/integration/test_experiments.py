"""The cost of every experiment and training run from billing data generated here: `/cost by experiment`,
`experiment:NAME … by resource`, the weekly digest's most expensive experiments, and `costbot mlflow sync`
against a real MLflow tracking server (SQLite backend) started by this module."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.billing import Line, daily, write_focus
from tests.integration.conftest import known_billing

RUN_TAG_LINES = "i-0trainfraud01"
JOB = "arn:aws:sagemaker:us-east-1:210987654321:training-job/bert-ft-0042"
SAGEMAKER = "Amazon SageMaker"


def experiment_lines(run_a: str) -> list[Line]:
    """Last week (Mon Nov 16 – Sun Nov 22): run A on a g5.12xlarge tagged with its run id (3 days × $136.13,
    24 h a day: 288 GPU-hours), the SageMaker training job of run B (2 × ml.p3.2xlarge for 10 h: $76.50, 20
    GPU-hours), $1,000 of llm-pretrain; and $400 of llm-pretrain the week before."""
    fraud = {"team": "ml", "experiment": "fraud-bert"}
    return [
        *daily(date(2026, 11, 20), date(2026, 11, 23), "136.13", tags={**fraud, "mlflow_run_id": run_a},
               resource=RUN_TAG_LINES, hours=Decimal(24), usage_type="BoxUsage:g5.12xlarge"),
        Line(date(2026, 11, 21), Decimal("76.50"), tags=fraud, service=SAGEMAKER, resource=JOB, hours=Decimal(20),
             usage_type="USE1-Train:ml.p3.2xlarge"),
        Line(date(2026, 11, 18), Decimal("1000"), tags={"team": "ml", "experiment": "llm-pretrain"},
             resource="i-0llm", hours=Decimal(10), usage_type="BoxUsage:p5.48xlarge"),
        Line(date(2026, 11, 10), Decimal("400"), tags={"team": "ml", "experiment": "llm-pretrain"},
             resource="i-0llm"),
    ]


def ingest_world(cli: Any, folder: Path, run_a: str = "0" * 32) -> None:
    assert cli("ingest", str(known_billing(folder / "known"))).code == 0
    experiments = write_focus(folder / "experiments" / "exp.csv", experiment_lines(run_a), account="444455556666")
    assert cli("ingest", str(experiments), "--source", "experiments").code == 0


def test_cost_by_experiment_and_of_one_experiment(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli = world()
    ingest_world(cli, tmp_path)
    result = cli("ask", "last-week", "by", "experiment", "--json")
    assert result.code == 0, result.err
    groups = {g["key"]: g["cost"] for g in result.json()["groups"]}
    assert groups == {"(untagged)": 1190.0, "llm-pretrain": 1000.0, "fraud-bert": 484.89}  # 3 x 136.13 + 76.50

    one = cli("ask", "experiment:fraud-bert", "last-30d", "by", "resource", "--json").json()
    assert one["scope"] == {"experiment": "fraud-bert"} and one["total"] == 484.89
    assert {g["key"]: g["cost"] for g in one["groups"]} == {RUN_TAG_LINES: 408.39, JOB: 76.5}

    by_run = cli("ask", "last-week", "by", "run", "--json").json()  # `run` is the first run tag
    assert {g["key"]: g["cost"] for g in by_run["groups"]}["0" * 32] == 408.39


def test_weekly_digest_names_the_most_expensive_experiments(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli = world()
    ingest_world(cli, tmp_path)
    assert cli("digest", "team-ml", "--weekly", "--preview", str(tmp_path / "out")).code == 0
    blocks = json.loads((tmp_path / "out" / "digest-team-ml-weekly.json").read_text())
    (section,) = [b["text"]["text"] for b in blocks if b["type"] == "section"
                  and b["text"]["text"].startswith("*Most expensive experiments*")]
    assert section.splitlines()[1:] == ["1. *llm-pretrain* $1,000.00 (+150%)", "2. *fraud-bert* $484.89 (new)"]
    daily_blocks = cli("digest", "team-ml", "--preview", str(tmp_path / "daily"))
    assert daily_blocks.code == 0
    assert "Most expensive experiments" not in (tmp_path / "daily" / "digest-team-ml-daily.json").read_text()


# -- MLflow -----------------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`mlflow server` on a SQLite backend and a free local port, stopped (its process group) afterwards."""
    pytest.importorskip("mlflow", reason="MLflow is not installed (pip install -e '.[dev]' brings its server)")
    executable = shutil.which("mlflow", path=os.path.dirname(sys.executable)) or shutil.which("mlflow")
    if executable is None:
        pytest.skip("the `mlflow` command is not installed")
    root = tmp_path_factory.mktemp("mlflow")
    port = _free_port()
    log = (root / "server.log").open("wb")
    process = subprocess.Popen(
        [executable, "server", "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
         "--default-artifact-root", str(root / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.close()
                raise AssertionError("mlflow server did not start:\n" + (root / "server.log").read_text()[-3000:])
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


def test_mlflow_sync_writes_each_runs_cost_back(world, tmp_path: Path, mlflow_server: str) -> None:  # type: ignore[no-untyped-def]
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_server)
    experiment = client.create_experiment(f"fraud-bert-{tmp_path.name}")
    run_a = client.create_run(experiment, run_name="bert-base-lr3e-5")  # its instance carries its run id
    client.log_param(run_a.info.run_id, "epochs", "4")
    run_b = client.create_run(experiment, run_name="bert-ft-sagemaker", tags={"sagemaker_training_job": JOB})
    run_c = client.create_run(experiment, run_name="never-ran")  # no billing lines: left alone
    for run in (run_a, run_b, run_c):
        client.set_terminated(run.info.run_id)

    cli = world(experiments={"mlflow": {"tracking_uri": mlflow_server,
                                        "experiments": [f"fraud-bert-{tmp_path.name}"]}})
    ingest_world(cli, tmp_path, run_a.info.run_id)

    dry = cli("mlflow", "sync", "--dry-run", "--json")
    assert dry.code == 0, dry.err
    assert dry.json()["written"] == 2 and "cost_usd" not in client.get_run(run_a.info.run_id).data.metrics

    result = cli("mlflow", "sync", "--json")
    assert result.code == 0, result.err
    report = {r["name"]: r for r in result.json()["runs"]}
    assert report["bert-base-lr3e-5"]["matched_by"] == ["tag mlflow_run_id"]
    assert report["bert-ft-sagemaker"]["matched_by"] == ["training job bert-ft-0042"]
    assert report["never-ran"]["matched_by"] == []

    a = client.get_run(run_a.info.run_id).data
    assert a.metrics == {"cost_usd": 408.39, "gpu_hours": 288.0, "cost_usd_per_epoch": 102.1}  # 408.39 / 4
    assert a.tags["costbot.cost_usd"] == "408.39" and a.tags["costbot.matched_by"] == "tag mlflow_run_id"
    assert a.tags["costbot.billing_through"] == "2026-11-27"
    b = client.get_run(run_b.info.run_id).data
    assert b.metrics == {"cost_usd": 76.5, "gpu_hours": 20.0}  # no epochs logged: no cost per epoch
    assert b.tags["costbot.matched_by"] == "training job bert-ft-0042"
    c = client.get_run(run_c.info.run_id).data
    assert c.metrics == {} and not any(k.startswith("costbot.") for k in c.tags)

    table = cli("mlflow", "sync", "--dry-run")
    assert table.code == 0 and "$408.39" in table.out and "$76.50" in table.out and "3 runs · 2 to write" in table.out

    with_password = mlflow_server.replace("http://", "http://bob:s3cret@")
    missing = world(experiments={"mlflow": {"tracking_uri": with_password, "experiments": ["no-such"]}})(
        "mlflow", "sync")
    assert missing.code == 1 and "s3cret" not in missing.err
    assert f"MLflow at {mlflow_server} has no experiment named 'no-such'" in " ".join(missing.err.split())


def test_mlflow_sync_without_a_server_says_how_to_set_one(world, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    result = world()("mlflow", "sync")
    assert result.code == 1
    assert "no MLflow tracking server: set experiments.mlflow.tracking_uri" in " ".join(result.err.split())


def test_focus_files_keep_the_usage_type_for_gpu_hours(tmp_path: Path) -> None:
    """AWS's FOCUS exports carry x_UsageType; GPU-hours need it (the instance type of each hour)."""
    from bot.adapters.duckdb_store import DuckDBCostStore
    from bot.domain.spec import CostSpec, Grouping

    store = DuckDBCostStore(tmp_path / "costs.duckdb")
    try:
        store.ingest_files([write_focus(tmp_path / "exp.csv", experiment_lines("r" * 32))])
        spec = CostSpec("EffectiveCost", date(2026, 11, 1), date(2026, 11, 28))
        assert store.quantities(spec, Grouping("column", "x_UsageType")) == [
            ("BoxUsage:g5.12xlarge", Decimal(72)), ("USE1-Train:ml.p3.2xlarge", Decimal(20)),
            ("BoxUsage:p5.48xlarge", Decimal(10))]
    finally:
        store.close()
