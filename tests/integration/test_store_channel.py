"""The cost store's local channel in one process: a client's answers are the owner's to the cent, errors keep
their kind, what is not a store call is refused, long folder paths work, and a client takes over a stopped owner."""

from __future__ import annotations

import http.client
import json
import socket
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from bot.adapters.duckdb_store import DuckDBCostStore
from bot.adapters.shared_store import SharedCostStore
from bot.adapters.store_service import SOCKET_NAME, StoreClient
from bot.adapters.store_wire import WireError, decode, encode
from bot.domain.errors import IngestError, StoreBusy
from bot.domain.spec import AllOf, ColumnIn, CostSpec, Grouping, TagMissing, TagsMatch, TeamRule
from tests.billing import daily, write_focus_parquet
from tests.stores import copy_store

SPEC = CostSpec("EffectiveCost", date(2026, 11, 1), date(2026, 11, 28),
                (AllOf((ColumnIn("ServiceName", ("Amazon Elastic Compute Cloud", "Amazon SageMaker")),
                        TagMissing("owner"))),), "team")
TEAMS = Grouping("teams", "team", teams=(TeamRule("team-ml", TagsMatch((("team", "ml"),))),
                                         TeamRule("team-vision", TagsMatch((("team", "vision"),)))),
                 then=Grouping("column", "ServiceName"))


@pytest.fixture
def folder(demo_store: tuple[Path, Path], tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    copy_store(demo_store[0] / "costs.duckdb", data / "costs.duckdb")
    return data


def shared(folder: Path, publish: bool) -> SharedCostStore:
    return SharedCostStore(lambda: DuckDBCostStore(folder / "costs.duckdb"), folder / SOCKET_NAME, publish=publish,
                           look_seconds=1.0)


def test_wire_keeps_domain_values_exactly() -> None:
    assert decode(encode(SPEC)) == SPEC
    assert decode(encode(TEAMS)) == TEAMS
    assert decode(encode({"a": Decimal("0.000001"), "b": [date(2026, 1, 2)]})) == {
        "a": Decimal("0.000001"), "b": [date(2026, 1, 2)]}
    with pytest.raises(WireError):
        decode({"$type": "Path", "x": "/etc"})  # only the domain's plain data types travel
    with pytest.raises(WireError):
        decode({"$type": "CostSpec", "metric": "EffectiveCost", "evil": 1})


def test_a_client_gets_the_owners_answers(folder: Path) -> None:
    owner = shared(folder, publish=True)
    client = shared(folder, publish=False)
    try:
        assert owner.connect() == "owner"
        assert client.connect() == "client"
        assert client.totals(SPEC, (date(2026, 10, 1), date(2026, 10, 28))) == owner.totals(
            SPEC, (date(2026, 10, 1), date(2026, 10, 28)))
        assert client.groups(SPEC, TEAMS) == owner.groups(SPEC, TEAMS)
        assert client.daily(SPEC, Grouping("time", "day")) == owner.daily(SPEC, Grouping("time", "day"))
        assert client.freshness() == owner.freshness() == date(2026, 11, 27)
        assert client.row_count() == owner.row_count() > 0
        assert client.sources() == owner.sources() == [("demo", owner.row_count())]
        assert client.holdings() == owner.holdings() and [h.name for h in client.holdings()] == ["demo"]
        assert client.tag_keys() == tuple(owner.tag_keys()) and client.first_day() == owner.first_day()
        assert client.resource_names() == owner.resource_names()
        assert client.quantities(SPEC, TEAMS) == owner.quantities(SPEC, TEAMS)
        assert client.distinct_values("ServiceName") == owner.distinct_values("ServiceName")
    finally:
        client.close()
        owner.close()
    assert not (folder / SOCKET_NAME).exists()


def test_errors_keep_their_kind_and_what_they_name(folder: Path, tmp_path: Path) -> None:
    owner = shared(folder, publish=True)
    client = shared(folder, publish=False)
    bad = tmp_path / "bad.csv"
    bad.write_text("ChargePeriodStart,BilledCost,EffectiveCost\n2026-11-18,1,1\n2026-11-19,x,1\n")
    try:
        owner.connect()
        with pytest.raises(IngestError) as raised:
            client.ingest_files([bad])
        assert (raised.value.path, raised.value.row, raised.value.column) == (str(bad), 2, "BilledCost")
        assert client.row_count() == owner.row_count()  # nothing was loaded
    finally:
        client.close()
        owner.close()


def test_what_is_not_a_store_call_is_refused(folder: Path) -> None:
    owner = shared(folder, publish=True)
    try:
        owner.connect()

        def send(body: bytes) -> tuple[int, dict[str, object]]:
            sock = socket.socket(socket.AF_UNIX)
            sock.connect(str(folder / SOCKET_NAME))
            conn = http.client.HTTPConnection("localhost")
            conn.sock = sock
            conn.request("POST", "/v1/call", body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            return response.status, json.loads(response.read())

        assert send(b'{"protocol": "1", "method": "close", "args": {}}')[0] == 400  # not a port method
        assert send(b'{"protocol": "1", "method": "_fetch", "args": {"sql": "COPY costs TO \'/tmp/x\'"}}')[0] == 400
        assert send(b'{"protocol": "0", "method": "row_count", "args": {}}')[0] == 400  # another protocol
        assert send(b"not json")[0] == 400
        status, payload = send(b'{"protocol": "1", "method": "row_count", "args": {}}')
        assert status == 200 and payload["result"] == owner.row_count()
    finally:
        owner.close()


def test_a_long_folder_path_still_gets_a_socket(demo_store: tuple[Path, Path], tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    copy_store(demo_store[0] / "costs.duckdb", deep / "costs.duckdb")
    assert len(str(deep / SOCKET_NAME)) > 108
    owner, client = shared(deep, publish=True), shared(deep, publish=False)
    try:
        assert owner.connect() == "owner"
        assert client.connect() == "client"
        assert client.row_count() == owner.row_count()
    finally:
        client.close()
        owner.close()


def test_a_client_takes_over_when_the_owner_stops(folder: Path) -> None:
    owner = shared(folder, publish=True)
    follower = shared(folder, publish=True)
    try:
        owner.connect()
        assert follower.connect() == "client"
        rows = follower.row_count()
        owner.close()  # the service stopped: socket removed, file released
        assert follower.row_count() == rows  # looked again, and now holds the store
        assert follower.role == "owner"
        assert StoreClient(folder / SOCKET_NAME).ping()
    finally:
        follower.close()
        owner.close()


def test_a_command_holding_the_file_is_waited_for_then_named(folder: Path) -> None:
    import subprocess
    import sys

    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); "
                               "print('held', flush=True); time.sleep(60)", str(folder / "costs.duckdb")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreBusy, match="held by another costbot command that serves no other process"):
            shared(folder, publish=False).connect()
    finally:
        holder.kill()
        holder.wait()
    alone = shared(folder, publish=False)
    try:
        assert alone.connect() == "alone"  # like `costbot ingest` with no service running: no socket
        assert not (folder / SOCKET_NAME).exists()
    finally:
        alone.close()


def test_a_client_folds_the_owners_kept_files(folder: Path, tmp_path: Path) -> None:
    owner = shared(folder, publish=True)
    client = shared(folder, publish=False)
    jan = write_focus_parquet(tmp_path / "jan.parquet", daily(date(2026, 1, 1), date(2026, 2, 1), "1.00"),
                              account="444455556666")
    try:
        owner.connect()
        assert client.connect() == "client"
        rows = client.row_count()
        client.ingest_files([jan], source="january")
        assert client.fold_kept_files() == 1  # `costbot fold` beside a running service: the owner folds
        assert client.fold_kept_files() == 0
        assert client.row_count() == owner.row_count() == rows + 31
        assert ("january", 31) in client.sources()
    finally:
        client.close()
        owner.close()
