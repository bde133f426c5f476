"""CloudWatch GetMetricData in batches of 500 queries (its limit per request), per account and region, so a
scan of thousands of resources makes a handful of requests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.adapters.providers.aws.errors import call

BATCH = 500
Series = dict[str, dict[str, list[tuple[datetime, float]]]]  # resource key -> field -> hourly points
Query = tuple[str, str, dict[str, Any], str]  # (resource key, field, Metric, statistic)


def fetch(client: Callable[[str, str], Any], queries: dict[tuple[str, str], list[Query]], start: datetime,
          end: datetime) -> Series:
    """Hourly series for the queries of each (account, region); `client(account, region)` gives CloudWatch."""
    series: Series = {}
    for (account, region), wanted in queries.items():
        cw = client(account, region)
        for offset in range(0, len(wanted), BATCH):
            chunk = wanted[offset:offset + BATCH]
            ids = {f"q{i}": (key, fld) for i, (key, fld, _, _) in enumerate(chunk)}
            request = [{"Id": f"q{i}", "MetricStat": {"Metric": metric, "Period": 3600, "Stat": stat},
                        "ReturnData": True} for i, (_, _, metric, stat) in enumerate(chunk)]
            token = None
            while True:
                kwargs: dict[str, Any] = {"MetricDataQueries": request, "StartTime": start, "EndTime": end,
                                          "ScanBy": "TimestampAscending"}
                if token:
                    kwargs["NextToken"] = token
                page = call("cloudwatch GetMetricData", cw.get_metric_data, **kwargs)
                for result in page.get("MetricDataResults", []):
                    key, fld = ids[result["Id"]]
                    points = zip(result.get("Timestamps", []), result.get("Values", []), strict=False)
                    series.setdefault(key, {}).setdefault(fld, []).extend((t, float(v)) for t, v in points)
                token = page.get("NextToken")
                if not token:
                    break
    return series
