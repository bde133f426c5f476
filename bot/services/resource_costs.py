"""What each resource cost in the bill over the last 30 days of data: the figure storage savings are scaled
from (a volume's own cost lines × (1 − the price ratio between the tiers)), so that savings follow what the team
really pays — discounts, partial months and region included — rather than list prices alone."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import timedelta
from decimal import Decimal

from bot.config import CostbotConfig
from bot.domain.money import ZERO
from bot.domain.spec import KEY_SEPARATOR, NONE_KEY, CostSpec, Grouping
from bot.ports import CostQueries

WINDOW_DAYS = 30
# the lines a tier change moves: S3 Standard storage (`USE1-TimedStorage-ByteHrs`; not the other classes'
# `TimedStorage-SIA-ByteHrs` …) and EBS volume storage (`EBS:VolumeUsage.gp2`); requests, transfer and the rest
# stay what they are. A line without a usage type counts (a FOCUS file may carry none).
STORAGE_USAGE = ("timedstorage-bytehrs", "volumeusage")


def is_storage_usage(usage_type: str) -> bool:
    usage = usage_type.lower()
    return usage in ("", NONE_KEY.lower()) or usage.endswith(STORAGE_USAGE[0]) or STORAGE_USAGE[1] in usage


def billing_id(resource_id: str) -> str:
    """A billing ResourceId as a resource's own id: the ARN's last segment (`…:volume/vol-0abc` -> `vol-0abc`),
    lower-cased. CUR names EBS volumes by their id and S3 buckets by their name, FOCUS by ARN."""
    tail = resource_id.rsplit(":", 1)[-1]
    return tail.rsplit("/", 1)[-1].strip().lower()


class ResourceCostService:
    def __init__(self, queries: CostQueries, config: CostbotConfig) -> None:
        self.queries = queries
        self.config = config

    def spent(self, ids: Collection[str]) -> dict[str, Decimal]:
        """What each resource cost in the last 30 days of data, every line of it, as it was (a training run's
        compute: a run is not a pace)."""
        return self.monthly(ids, storage_only=False, pace=False)

    def hourly(self, ids: Collection[str]) -> dict[str, Decimal]:
        """What an hour of each resource costs in the bill: its cost over the last 30 days of data ÷ the hours it
        ran in them (its lines measured in hours). Ids whose lines carry no hours are left out. Two queries."""
        wanted = {i.lower() for i in ids}
        spec = self._window() if wanted else None
        if spec is None:
            return {}
        grouping = Grouping("column", "ResourceId")
        cost: dict[str, Decimal] = defaultdict(lambda: ZERO)
        hours: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for group, amount in self.queries.groups(spec, grouping):
            if billing_id(group) in wanted:
                cost[billing_id(group)] += amount
        for group, amount in self.queries.quantities(spec, grouping):
            if billing_id(group) in wanted:
                hours[billing_id(group)] += amount
        return {key: cost[key] / h for key, h in hours.items() if h > 0 and key in cost}

    def _window(self) -> CostSpec | None:
        """The last 30 days of data (fewer when the store holds fewer)."""
        through = self.queries.freshness()
        if through is None:
            return None
        end = through + timedelta(days=1)
        start = max(end - timedelta(days=WINDOW_DAYS), self.queries.first_day() or end)
        return CostSpec(self.config.metric, start, end, (), self.config.grammar.team_tag_key) if start < end else None

    def monthly(self, ids: Collection[str], storage_only: bool = True, pace: bool = True) -> dict[str, Decimal]:
        """A 30-day month of each resource's billed storage cost (the configured metric), for the ids asked (a
        resource's own id: `vol-…`, a bucket name), over the 30 days through the data's last day (a store holding
        fewer days: their pace over 30). Ids the bill does not name are left out; no data at all gives {}. One
        query whatever the number of ids. `storage_only=False`: every line; `pace=False`: the window's sum as it
        is, never scaled."""
        wanted = {i.lower() for i in ids}
        spec = self._window() if wanted else None
        if spec is None:
            return {}
        out: dict[str, Decimal] = defaultdict(lambda: ZERO)
        grouping = Grouping("column", "ResourceId", then=Grouping("column", "x_UsageType"))
        for group, amount in self.queries.groups(spec, grouping):
            resource, _, usage = group.partition(KEY_SEPARATOR)
            key = billing_id(resource)
            if key in wanted and (not storage_only or is_storage_usage(usage)):
                out[key] += amount
        # a store holding fewer days: their pace for 30
        scale = Decimal(WINDOW_DAYS) / (spec.end - spec.start).days if pace else Decimal(1)
        return {key: amount * scale for key, amount in out.items()}
