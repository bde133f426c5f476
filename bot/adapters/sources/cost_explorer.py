"""AWS Cost Explorer as a billing source: daily cost by service and team tag, mapped to FOCUS rows.

Cost Explorer allows two group-bys per request, so each sync asks once (plus pages) per configured tag key:
GroupBy SERVICE + TAG:<key>, DAILY, AmortizedCost (-> EffectiveCost) and UnblendedCost (-> BilledCost). The
rows of the first key (the team key) are stored; `team$ml` becomes the tag team=ml and `team$` untagged.
Every request costs USD 0.01, so requests are counted and logged, and only syncs call the API.
"""

from __future__ import annotations

import csv
import json
import logging
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any, ClassVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bot.adapters.sources.columns import FOCUS_COLUMNS
from bot.domain.errors import SourceError
from bot.domain.ingest import SourceBatch
from bot.telemetry import count_aws_calls

log = logging.getLogger("costbot.sources")

CE_COLUMNS = [c for c in FOCUS_COLUMNS if not c.startswith("x_")]


def months_between(since: date, until: date) -> list[date]:
    out, m = [], since.replace(day=1)
    while m < until:
        out.append(m)
        m = (m + timedelta(days=32)).replace(day=1)
    return out


class CostExplorerSource:
    kind = "cost_explorer"
    PERMISSIONS: ClassVar[tuple[str, ...]] = ("ce:GetCostAndUsage", "sts:GetCallerIdentity")

    def __init__(self, name: str, tag_key: str, session_factory: Callable[[], Any] = boto3.session.Session) -> None:
        self.name = name
        self.tag_key = tag_key
        self.session_factory = session_factory
        self.requests: Counter[str] = Counter()
        self.seen: dict[str, str] = {}
        self._config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=60)

    def _client(self, service: str) -> Any:
        client = self.session_factory().client(service, region_name="us-east-1", config=self._config)
        client.meta.events.register("before-call", lambda model, **_: self.requests.update([model.name]))
        return count_aws_calls(client)

    def account(self) -> str:
        return str(self._client("sts").get_caller_identity()["Account"])

    def pull(self, since: date, until: date, workdir: Path, known: dict[str, str]) -> SourceBatch:
        try:
            account = self.account()
            ce = self._client("ce")
            rows: list[dict[str, str]] = []
            token = None
            while True:
                kwargs: dict[str, Any] = {
                    "TimePeriod": {"Start": since.isoformat(), "End": until.isoformat()}, "Granularity": "DAILY",
                    "Metrics": ["AmortizedCost", "UnblendedCost"],
                    "GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"}, {"Type": "TAG", "Key": self.tag_key}],
                }
                if token:
                    kwargs["NextPageToken"] = token
                page = ce.get_cost_and_usage(**kwargs)
                rows += self._rows(page, account)
                token = page.get("NextPageToken")
                if not token:
                    break
        except (ClientError, BotoCoreError) as exc:
            raise SourceError(f"Cost Explorer ({self.name}) failed: {exc}") from exc
        log.info("cost explorer %s: %d requests (USD %.2f), %d rows", self.name, sum(self.requests.values()),
                 self.requests["GetCostAndUsage"] * 0.01, len(rows))
        path = workdir / f"{self.name}.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=CE_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        replace = [(account, m) for m in months_between(since, until)]
        return SourceBatch([path] if rows else [], replace, f"{len(rows)} daily rows")

    def _rows(self, page: dict[str, Any], account: str) -> list[dict[str, str]]:
        rows = []
        for result in page.get("ResultsByTime", []):
            start, end = result["TimePeriod"]["Start"], result["TimePeriod"]["End"]
            for group in result.get("Groups", []):
                keys = group.get("Keys", [])
                service = keys[0] if keys else "(unknown)"
                tag_value = keys[1].split("$", 1)[1] if len(keys) > 1 and "$" in keys[1] else ""
                metrics = group.get("Metrics", {})
                amortized = metrics.get("AmortizedCost", {})
                unblended = metrics.get("UnblendedCost", {})
                rows.append({
                    "BillingAccountId": account, "SubAccountId": account, "ProviderName": "AWS",
                    "ChargePeriodStart": f"{start}T00:00:00Z", "ChargePeriodEnd": f"{end}T00:00:00Z",
                    "BillingPeriodStart": f"{start[:7]}-01T00:00:00Z", "ChargeCategory": "Usage",
                    "BilledCost": unblended.get("Amount", "0"), "EffectiveCost": amortized.get("Amount", "0"),
                    "BillingCurrency": unblended.get("Unit") or amortized.get("Unit") or "USD",
                    "ServiceName": service, "Tags": json.dumps({self.tag_key: tag_value} if tag_value else {}),
                })
        return rows

    def check(self) -> list[str]:
        problems = []
        try:
            self.account()
        except (ClientError, BotoCoreError) as exc:
            problems.append(f"sts:GetCallerIdentity: {exc}")
        try:
            today = date.today()
            self._client("ce").get_cost_and_usage(
                TimePeriod={"Start": (today - timedelta(days=1)).isoformat(), "End": today.isoformat()},
                Granularity="DAILY", Metrics=["UnblendedCost"])
        except (ClientError, BotoCoreError) as exc:
            problems.append(f"ce:GetCostAndUsage: {exc}")
        return problems
