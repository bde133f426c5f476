"""A deterministic FOCUS data set for a fictional ML organization, for the demo, tests and benchmarks.

Every figure is a pure function of (resource, day), so the same day always has the same cost whatever
"today" is. Costs carry six decimals so sums are exact in Decimal. Each resource's id has the shape its service
gives it on a real bill (`DemoResource.kind`): EC2 instance and SageMaker ARNs, bucket names, `vol-…`, `nat-…`;
its name is the ResourceName. `demo_resources()` lists them.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

BILLING_ACCOUNT = "111122223333"
ACCOUNTS = {"ml-prod": "210987654321", "ml-dev": "310987654321", "data": "410987654321"}
SIX = Decimal("0.000001")

FOCUS_HEADER = (
    "BillingAccountId", "BillingAccountName", "SubAccountId", "SubAccountName", "ProviderName",
    "BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory",
    "ChargeDescription", "BilledCost", "EffectiveCost", "ListCost", "BillingCurrency", "ServiceName",
    "ServiceCategory", "ResourceId", "ResourceName", "ResourceType", "RegionId", "SkuId", "ConsumedQuantity",
    "ConsumedUnit", "Tags",
)


def _hex_id(prefix: str, name: str) -> str:
    """A stable id of AWS's shape (`i-`, `vol-`, `nat-` and 17 hex digits) derived from the name."""
    return f"{prefix}-{hashlib.sha256(name.encode()).hexdigest()[:17]}"


@dataclass(frozen=True)
class DemoResource:
    name: str
    service: str
    category: str
    rtype: str
    sku: str
    account: str
    hourly: Decimal  # list price per hour (or per day for storage-like items, with hours_per_day=1)
    tags: dict[str, str] = field(default_factory=dict)
    region: str = "us-east-1"
    weekday_hours: int = 24
    weekend_hours: int = 24
    unit: str = "Hours"
    commitment: Decimal | None = None  # effective / list when covered by a savings plan
    growth: Decimal = Decimal("0")  # relative daily growth (storage)
    start_offset: int = 0  # days after the first demo day the resource appears
    noise: Decimal = Decimal("0.10")
    # what it is, and so the shape of its id: ec2 | endpoint | notebook | bucket | volume | nat | eks | athena | none
    kind: str = "ec2"

    @property
    def resource_id(self) -> str:
        """The ResourceId a bill carries for it ("" for charges with no resource, such as data transfer)."""
        where = f"{self.region}:{self.account}"
        return {
            "ec2": f"arn:aws:ec2:{where}:instance/{_hex_id('i', self.name)}",
            "endpoint": f"arn:aws:sagemaker:{where}:endpoint/{self.name}",
            "notebook": f"arn:aws:sagemaker:{where}:notebook-instance/{self.name}",
            "bucket": self.name,
            "volume": _hex_id("vol", self.name),
            "nat": _hex_id("nat", self.name),
            "eks": f"arn:aws:eks:{where}:cluster/{self.name}",
            "athena": f"arn:aws:athena:{where}:workgroup/{self.name}",
            "none": "",
        }[self.kind]


def _t(team: str | None = None, project: str | None = None, model: str | None = None,
       env: str | None = None, **extra: str) -> dict[str, str]:
    tags = {"team": team, "project": project, "model": model, "env": env, **extra}
    return {k: v for k, v in tags.items() if v}


def demo_resources() -> list[DemoResource]:
    ml, dev, data = ACCOUNTS["ml-prod"], ACCOUNTS["ml-dev"], ACCOUNTS["data"]
    ec2, sm, s3 = "Amazon Elastic Compute Cloud", "Amazon SageMaker", "Amazon Simple Storage Service"
    ebs = "Amazon Elastic Block Store"
    r = DemoResource
    return [
        # team-ml: fraud and recsys
        r("train-fraud-01", ec2, "Compute", "p4d.24xlarge", "SKU-P4D24XL", ml, Decimal("32.7726"),
          _t("ml", "fraud", "bert-large", "prod"), weekend_hours=8, commitment=Decimal("0.62")),
        r("train-recsys-01", ec2, "Compute", "g5.12xlarge", "SKU-G512XL", ml, Decimal("5.672"),
          _t("ml", "recsys", "two-tower", "prod"), weekend_hours=6),
        r("gpu-dev-02", ec2, "Compute", "g5.12xlarge", "SKU-G512XL", dev, Decimal("5.672"),
          _t("ml", "fraud", None, "dev"), start_offset=150, noise=Decimal("0")),
        r("endpoint-fraud-scoring", sm, "AI and Machine Learning", "ml.g5.xlarge", "SKU-SM-G5XL", ml,
          Decimal("1.408"), _t("ml", "fraud", "bert-large", "prod"), kind="endpoint"),
        r("nb-ml-research", sm, "AI and Machine Learning", "ml.t3.xlarge", "SKU-SM-T3XL", dev, Decimal("0.20"),
          _t("ml", "recsys", None, "dev"), weekday_hours=10, weekend_hours=0, kind="notebook"),
        r("s3-ml-datasets", s3, "Storage", "Bucket", "SKU-S3-STD", ml, Decimal("41.50"),
          _t("ml", "fraud", None, "prod"), weekday_hours=1, weekend_hours=1, unit="GB-Month",
          growth=Decimal("0.004"), kind="bucket"),
        r("ebs-ml-scratch", ebs, "Storage", "gp3", "SKU-EBS-GP3", dev, Decimal("6.40"),
          _t("ml", "recsys", None, "dev"), weekday_hours=1, weekend_hours=1, unit="GB-Month", kind="volume"),
        # team-vision: detection
        r("train-vision-01", ec2, "Compute", "p4d.24xlarge", "SKU-P4D24XL", ml, Decimal("32.7726"),
          _t("vision", "detection", "yolo-v8", "prod"), weekday_hours=14, weekend_hours=2),
        r("endpoint-detection", sm, "AI and Machine Learning", "ml.g5.2xlarge", "SKU-SM-G52XL", ml,
          Decimal("1.515"), _t("vision", "detection", "yolo-v8", "prod"), kind="endpoint"),
        r("s3-vision-images", s3, "Storage", "Bucket", "SKU-S3-STD", ml, Decimal("88.20"),
          _t("vision", "detection", None, "prod"), weekday_hours=1, weekend_hours=1, unit="GB-Month",
          growth=Decimal("0.002"), kind="bucket"),
        # team-search: ranking
        r("train-ranking-01", ec2, "Compute", "g5.2xlarge", "SKU-G52XL", ml, Decimal("1.212"),
          _t("search", "ranking", "ranker-v3", "prod"), weekend_hours=12),
        r("endpoint-ranker", sm, "AI and Machine Learning", "ml.g5.xlarge", "SKU-SM-G5XL", ml, Decimal("1.408"),
          _t("search", "ranking", "ranker-v3", "prod"), kind="endpoint"),
        r("nb-search-dev", sm, "AI and Machine Learning", "ml.t3.xlarge", "SKU-SM-T3XL", dev, Decimal("0.20"),
          _t("search", "ranking", None, "dev"), weekday_hours=9, weekend_hours=0, kind="notebook"),
        # team-data: etl
        r("etl-cluster-01", ec2, "Compute", "r6i.4xlarge", "SKU-R64XL", data, Decimal("1.008"),
          _t("data", "etl", None, "prod")),
        r("s3-data-lake", s3, "Storage", "Bucket", "SKU-S3-STD", data, Decimal("120.00"),
          _t("data", "etl", None, "prod"), weekday_hours=1, weekend_hours=1, unit="GB-Month",
          growth=Decimal("0.003"), kind="bucket"),
        r("athena-queries", "Amazon Athena", "Analytics", "Query", "SKU-ATHENA", data, Decimal("18.00"),
          _t("data", "etl", None, "prod"), weekday_hours=1, weekend_hours=1, unit="TB", noise=Decimal("0.35"),
          kind="athena"),
        # team-platform: the shared cluster
        r("eks-platform", "Amazon Elastic Kubernetes Service", "Compute", "Cluster", "SKU-EKS", ml,
          Decimal("0.10"), _t("platform", "shared-cluster", None, "prod"), kind="eks"),
        r("eks-nodes", ec2, "Compute", "m6i.2xlarge", "SKU-M62XL", ml, Decimal("1.536"),
          _t("platform", "shared-cluster", None, "prod")),
        # shared network: no team tag
        r("nat-gateway-prod", "Amazon Virtual Private Cloud", "Networking", "NAT Gateway", "SKU-NAT", ml,
          Decimal("0.045"), _t(None, None, None, "prod"), kind="nat"),
        r("data-transfer-out", "AWS Data Transfer", "Networking", "Data Transfer", "SKU-DTO", ml,
          Decimal("55.00"), {}, weekday_hours=1, weekend_hours=1, unit="GB", noise=Decimal("0.25"), kind="none"),
        # the untagged slice
        r("legacy-batch-07", ec2, "Compute", "c5.4xlarge", "SKU-C54XL", dev, Decimal("0.68"), {}),
        r("s3-old-exports", s3, "Storage", "Bucket", "SKU-S3-STD", dev, Decimal("14.00"), {},
          weekday_hours=1, weekend_hours=1, unit="GB-Month", kind="bucket"),
    ]


#: days before "today" of the runaway job (team-vision, 8 extra p4d instances for a day)
SPIKE_DAYS_AGO = 12
SPIKE_RESOURCE = "train-vision-spike"


def _noise(key: str, spread: Decimal) -> Decimal:
    """A stable factor in [1 - spread, 1 + spread] derived from the key."""
    digest = hashlib.sha256(key.encode()).digest()
    unit = Decimal(int.from_bytes(digest[:4], "big")) / Decimal(2**32)
    return 1 + spread * (2 * unit - 1)


def _row(res: DemoResource, day: date, quantity: Decimal, list_cost: Decimal, description: str) -> dict[str, str]:
    list_cost = list_cost.quantize(SIX)
    if res.commitment is not None:
        billed, effective = Decimal("0").quantize(SIX), (list_cost * res.commitment).quantize(SIX)
    else:
        billed = effective = list_cost
    period = date(day.year, day.month, 1)
    next_period = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return {
        "BillingAccountId": BILLING_ACCOUNT, "BillingAccountName": "Acme ML",
        "SubAccountId": res.account, "SubAccountName": next(k for k, v in ACCOUNTS.items() if v == res.account),
        "ProviderName": "AWS", "BillingPeriodStart": f"{period}T00:00:00Z",
        "BillingPeriodEnd": f"{next_period}T00:00:00Z", "ChargePeriodStart": f"{day}T00:00:00Z",
        "ChargePeriodEnd": f"{day + timedelta(days=1)}T00:00:00Z", "ChargeCategory": "Usage",
        "ChargeDescription": description, "BilledCost": str(billed), "EffectiveCost": str(effective),
        "ListCost": str(list_cost), "BillingCurrency": "USD", "ServiceName": res.service,
        "ServiceCategory": res.category, "ResourceId": res.resource_id,
        "ResourceName": res.name if res.resource_id else "",
        "ResourceType": res.rtype, "RegionId": res.region, "SkuId": res.sku,
        "ConsumedQuantity": str(quantity), "ConsumedUnit": res.unit,
        "Tags": json.dumps(res.tags, sort_keys=True),
    }


def _savings_plan_row(day: date) -> dict[str, str]:
    """The monthly savings-plan fee: billed on the 1st, amortized into the covered usage (effective 0)."""
    res = DemoResource("savings-plan-compute", "Savings Plans for AWS Compute usage", "Compute",
                       "Savings Plan", "SKU-SP", ACCOUNTS["ml-prod"], Decimal("0"), {})
    row = _row(res, day, Decimal("1"), Decimal("0"), "Compute Savings Plan monthly fee")
    row.update({"ChargeCategory": "Purchase", "BilledCost": "14500.000000", "EffectiveCost": "0.000000",
                "ListCost": "14500.000000", "ResourceId": "arn:aws:savingsplans::111122223333:savingsplan/sp-demo",
                "ConsumedUnit": "Commitment"})
    return row


def generate_rows(today: date, days: int = 180) -> Iterator[dict[str, str]]:
    """FOCUS rows (text values, as a file holds them) for `days` days up to yesterday."""
    first = today - timedelta(days=days)
    resources = demo_resources()
    spike = DemoResource(SPIKE_RESOURCE, "Amazon Elastic Compute Cloud", "Compute", "p4d.24xlarge",
                         "SKU-P4D24XL", ACCOUNTS["ml-prod"], Decimal("32.7726"),
                         _t("vision", "detection", "yolo-v8", "prod"), noise=Decimal("0"))
    for offset in range(days):
        day = first + timedelta(days=offset)
        weekend = day.weekday() >= 5
        if day.day == 1:
            yield _savings_plan_row(day)
        for res in resources:
            if offset < res.start_offset:
                continue
            hours = res.weekend_hours if weekend else res.weekday_hours
            if hours == 0:
                continue
            factor = _noise(f"{res.name}:{day}", res.noise)
            growth = (1 + res.growth) ** offset if res.growth else Decimal(1)
            quantity = (Decimal(hours) * factor).quantize(Decimal("0.01"))
            cost = res.hourly * quantity * growth
            yield _row(res, day, quantity, cost, f"{res.rtype} usage")
        if (today - day).days == SPIKE_DAYS_AGO:
            yield _row(spike, day, Decimal(8 * 20), spike.hourly * 8 * 20, "p4d.24xlarge runaway job")


def write_demo_csv(path: Path, today: date, days: int = 180) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=FOCUS_HEADER)
        writer.writeheader()
        for row in generate_rows(today, days):
            writer.writerow(row)
            count += 1
    return count


# -- the demo organization's running resources (what the `demo` provider shows to scans and actions) ----------
@dataclass(frozen=True)
class LiveProfile:
    """How one of the demo organization's resources runs: the kind a provider would call it, the state it starts
    in, and what its metrics say (peaks over the last day, p95 over the last week; network in MB per hour).
    The billing rows above are what it cost; this is what it is doing."""

    kind: str  # ec2 | notebook | endpoint
    state: str = "running"
    cpu_max: float = 60.0
    cpu_p95: float = 50.0
    gpu_max: float | None = None
    gpu_p95: float | None = None
    network_mb: float = 900.0
    invocations: float | None = None  # endpoints: requests served over the last day
    count: int = 1


LIVE_PROFILES: dict[str, LiveProfile] = {
    "train-fraud-01": LiveProfile("ec2", cpu_max=88, cpu_p95=81, gpu_max=97, gpu_p95=93, network_mb=2400),
    "train-recsys-01": LiveProfile("ec2", cpu_max=71, cpu_p95=64, gpu_max=86, gpu_p95=78),
    # the idle GPU box: a dev instance nobody has touched for days
    "gpu-dev-02": LiveProfile("ec2", cpu_max=2, cpu_p95=1.5, gpu_max=1, gpu_p95=0.4, network_mb=0.4),
    "train-vision-01": LiveProfile("ec2", cpu_max=76, cpu_p95=70, gpu_max=92, gpu_p95=88),
    # busy, but never near its size: a smaller g5 would do
    "train-ranking-01": LiveProfile("ec2", cpu_max=38, cpu_p95=19, gpu_max=31, gpu_p95=17),
    "etl-cluster-01": LiveProfile("ec2", cpu_max=64, cpu_p95=52),
    "eks-nodes": LiveProfile("ec2", cpu_max=58, cpu_p95=47),
    # untagged and idle: nobody's, so it goes to the owners channel
    "legacy-batch-07": LiveProfile("ec2", cpu_max=3, cpu_p95=2, network_mb=0.8),
    "endpoint-fraud-scoring": LiveProfile("endpoint", state="InService", cpu_max=41, cpu_p95=35,
                                          invocations=182_400),
    "endpoint-detection": LiveProfile("endpoint", state="InService", cpu_max=37, cpu_p95=30, invocations=96_000),
    "endpoint-ranker": LiveProfile("endpoint", state="InService", cpu_max=52, cpu_p95=44, invocations=240_000),
    "nb-ml-research": LiveProfile("notebook", state="InService", cpu_max=35, cpu_p95=22),
    "nb-search-dev": LiveProfile("notebook", state="Stopped", cpu_max=0, cpu_p95=0),
}


def live_resources() -> list[tuple[DemoResource, LiveProfile]]:
    """The demo organization's resources that run (instances, notebooks, endpoints), with how they run."""
    return [(res, LIVE_PROFILES[res.name]) for res in demo_resources() if res.name in LIVE_PROFILES]
