"""Prices for estimates from the AWS Price List API (a local stub of GetProducts: moto has no `pricing`),
region-aware and cached on disk, with the bundled table as the fallback — its source printed — for what the
API does not know and when it cannot be reached."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from tests.integration.test_estimate import P5, SMALL
from tests.price_list_stub import PriceListStub, product

EC2 = {"instanceType": "t3.medium", "regionCode": "us-east-1", "operatingSystem": "Linux", "tenancy": "Shared",
       "preInstalledSw": "NA", "capacitystatus": "Used"}


@pytest.fixture
def price_list(monkeypatch: pytest.MonkeyPatch) -> Iterator[PriceListStub]:
    stub = PriceListStub([
        product("AmazonEC2", EC2, "0.0500000000"),
        product("AmazonEC2", {**EC2, "regionCode": "eu-west-1"}, "0.0600000000"),
        product("AmazonEC2", {"productFamily": "Storage", "volumeApiName": "gp3", "regionCode": "us-east-1"},
                "0.0900000000", unit="GB-Mo"),
    ])
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
                       "AWS_ENDPOINT_URL_PRICING": stub.url}.items():
        monkeypatch.setenv(key, value)
    try:
        yield stub
    finally:
        stub.stop()


def _estimate(cli, plan) -> dict:  # type: ignore[no-untyped-def,type-arg]
    result = cli("estimate", str(plan), "--format", "json")
    assert result.code in (0, 1), result.err
    return json.loads(result.out)


def test_price_list_prices_are_used_and_cached(world, price_list: PriceListStub) -> None:  # type: ignore[no-untyped-def]
    cli = world(estimate={})  # prices: auto
    out = _estimate(cli, SMALL)
    (line,) = out["lines"]
    assert line["monthly_delta"] == 38.30  # t3.medium $0.05 x 730 h + 20 GB gp3 at $0.09 (the stub's prices)
    assert line["price_source"] == "AWS Price List API (us-east-1, 2026-11-28)"
    assert out["price_sources"] == ["AWS Price List API (us-east-1, 2026-11-28)"]
    assert [r["ServiceCode"] for r in price_list.requests] == ["AmazonEC2", "AmazonEC2"]
    assert {f["Field"]: f["Value"] for f in price_list.requests[0]["Filters"]} == EC2
    assert all(f["Type"] == "TERM_MATCH" for f in price_list.requests[0]["Filters"])

    assert _estimate(cli, SMALL)["monthly_delta"] == 38.30
    assert len(price_list.requests) == 2  # the second run is answered from the cache

    out = _estimate(cli, P5)  # p5.48xlarge is not in the stub: the bundled table's price, and its source
    assert out["lines"][0]["monthly_delta"] == 71863.60  # $98.32 x 730 + 1,000 GB gp3 at the cached $0.09
    assert out["price_sources"] == ["AWS Price List API (us-east-1, 2026-11-28)", "bundled table (us-east-1, 2025)"]
    sagemaker = [r for r in price_list.requests if r["ServiceCode"] != "AmazonEC2"]
    assert sagemaker == []


def test_unreachable_price_list_falls_back_to_the_bundled_table(world, price_list, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_PRICING", f"http://127.0.0.1:{closed}")
    out = _estimate(world(estimate={}), SMALL)
    assert out["lines"][0]["monthly_delta"] == 31.97  # t3.medium $0.0416 x 730 ($30.368) + 20 GB gp3 at $0.08
    assert out["price_sources"] == ["bundled table (us-east-1, 2025)",
                                    "AWS Price List API not reachable (EndpointConnectionError)"]
