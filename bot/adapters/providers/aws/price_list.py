"""Unit prices for estimates: the AWS Price List API (`pricing` GetProducts), region-aware and cached on disk,
with the bundled tables as the fallback when the API cannot be reached or does not know an item.

The Price List API lives in a few regions only (us-east-1 answers for every region's prices). Its answers are
kept in `price-cache.json` in the data folder for `cache_days`; a failed call (no credentials, no network,
access denied) is not retried for the rest of the process, so an estimate in CI without AWS access costs one
quick failure, not one per resource.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from bot.adapters.providers.aws.sizes import gpu_count
from bot.adapters.providers.prices import BUNDLED_AS_OF, BUNDLED_REGION, aws_prices, storage_prices
from bot.domain.estimate import PriceKind, PriceQuote

log = logging.getLogger("costbot.prices")

PRICING_REGION = "us-east-1"
_SAGEMAKER_COMPONENT = {"sagemaker_hosting": "Hosting", "sagemaker_training": "Training",
                        "sagemaker_notebook": "Notebook"}


class BundledPrices:
    """PriceSource on the tables shipped with costbot (us-east-1 list prices; other regions differ)."""

    def source(self, region: str) -> str:
        where = BUNDLED_REGION if region == BUNDLED_REGION else f"{BUNDLED_REGION} prices; {region} differs"
        return f"bundled table ({where}, {BUNDLED_AS_OF})"

    def price(self, kind: PriceKind, item: str, region: str) -> PriceQuote | None:
        table = storage_prices() if kind == "ebs" else aws_prices()
        amount = table.get(item)
        return PriceQuote(amount, self.source(region)) if amount is not None else None

    def gpus(self, instance_type: str) -> int | None:
        return gpu_count(instance_type)

    def status(self) -> str | None:
        return None


def _filters(kind: PriceKind, item: str, region: str) -> tuple[str, list[dict[str, str]]]:
    def term(field: str, value: str) -> dict[str, str]:
        return {"Type": "TERM_MATCH", "Field": field, "Value": value}

    if kind == "ec2":
        return "AmazonEC2", [term("instanceType", item), term("regionCode", region), term("operatingSystem", "Linux"),
                             term("tenancy", "Shared"), term("preInstalledSw", "NA"), term("capacitystatus", "Used")]
    if kind == "ebs":
        return "AmazonEC2", [term("productFamily", "Storage"), term("volumeApiName", item),
                             term("regionCode", region)]
    return "AmazonSageMaker", [term("instanceName", item), term("regionCode", region),
                               term("component", _SAGEMAKER_COMPONENT[kind])]


def on_demand_price(price_list: list[str], unit: str) -> Decimal | None:
    """The lowest positive on-demand price per `unit` in a GetProducts answer (its items are JSON texts)."""
    found: list[Decimal] = []
    for text in price_list:
        try:
            product = json.loads(text)
        except (TypeError, json.JSONDecodeError):
            continue
        for term in ((product.get("terms") or {}).get("OnDemand") or {}).values():
            for dimension in (term.get("priceDimensions") or {}).values():
                if str(dimension.get("unit", "")).lower() != unit.lower():
                    continue
                try:
                    amount = Decimal(str((dimension.get("pricePerUnit") or {}).get("USD")))
                except (InvalidOperation, ValueError):
                    continue
                if amount > 0:
                    found.append(amount)
    return min(found) if found else None


class AwsPriceList:
    """PriceSource on the Price List API, falling back to `fallback` (the bundled tables) per item."""

    def __init__(self, cache_path: Path | None, cache_days: int = 7, fallback: BundledPrices | None = None,
                 today: date | None = None, client: Any = None) -> None:
        self.cache_path = cache_path
        self.cache_days = cache_days
        self.fallback = fallback or BundledPrices()
        self.today = today or datetime.now(UTC).date()
        self._client = client
        self._lock = threading.Lock()
        self._cache: dict[str, dict[str, str]] | None = None
        self.unreachable: str | None = None  # why the API was not used, once a call failed
        self.requests = 0

    # -- cache ---------------------------------------------------------------------------------------------
    def _load(self) -> dict[str, dict[str, str]]:
        if self._cache is None:
            self._cache = {}
            if self.cache_path is not None and self.cache_days > 0 and self.cache_path.is_file():
                try:
                    loaded = json.loads(self.cache_path.read_text(encoding="utf-8"))
                    self._cache = loaded if isinstance(loaded, dict) else {}
                except (OSError, json.JSONDecodeError):
                    log.warning("price cache %s unreadable: starting a new one", self.cache_path)
        return self._cache

    def _save(self) -> None:
        if self.cache_path is None or self.cache_days <= 0 or self._cache is None:
            return
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.cache_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._cache, sort_keys=True), encoding="utf-8")
        tmp.replace(self.cache_path)

    def _cached(self, key: str) -> dict[str, str] | None:
        entry = self._load().get(key)
        if entry is None:
            return None
        fetched = date.fromisoformat(entry.get("fetched", "1970-01-01"))
        return entry if self.today - fetched < timedelta(days=self.cache_days) else None

    # -- the API ---------------------------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.client("pricing", region_name=PRICING_REGION, config=Config(
                connect_timeout=3, read_timeout=10, retries={"max_attempts": 2, "mode": "standard"}))
        return self._client

    def _fetch(self, kind: PriceKind, item: str, region: str) -> Decimal | None:
        from botocore.exceptions import BotoCoreError, ClientError

        service, filters = _filters(kind, item, region)
        unit = "GB-Mo" if kind == "ebs" else "Hrs"
        try:
            found: list[str] = []
            token: str | None = None
            for _ in range(10):  # a filtered query is one page; never follow a runaway token forever
                args: dict[str, Any] = {"ServiceCode": service, "Filters": filters, "MaxResults": 100}
                if token:
                    args["NextToken"] = token
                self.requests += 1
                answer = self.client.get_products(**args)
                found += answer.get("PriceList") or []
                token = answer.get("NextToken")
                if not token:
                    break
        except (BotoCoreError, ClientError) as exc:
            code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else type(exc).__name__
            self.unreachable = f"{code}"
            log.warning("AWS Price List API not used (%s): prices come from the bundled table", code)
            raise _Unreachable from None
        return on_demand_price(found, unit)

    def price(self, kind: PriceKind, item: str, region: str) -> PriceQuote | None:
        key = f"{kind}|{region}|{item}"
        with self._lock:
            entry = self._cached(key)
            if entry is None and self.unreachable is None:
                try:
                    amount = self._fetch(kind, item, region)
                except _Unreachable:
                    amount = None
                else:
                    entry = {"amount": str(amount) if amount is not None else "", "fetched": self.today.isoformat()}
                    self._load()[key] = entry
                    self._save()
        if entry is not None and entry.get("amount"):
            return PriceQuote(Decimal(entry["amount"]), f"AWS Price List API ({region}, {entry['fetched']})")
        return self.fallback.price(kind, item, region)

    def gpus(self, instance_type: str) -> int | None:
        return self.fallback.gpus(instance_type)

    def status(self) -> str | None:
        return f"AWS Price List API not reachable ({self.unreachable})" if self.unreachable else None


class _Unreachable(Exception):
    pass
