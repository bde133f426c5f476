"""S3 buckets. A bucket holding much in S3 Standard that is rarely read, with no lifecycle rule moving its
current versions anywhere, is offered an Intelligent-Tiering rule: PutBucketLifecycleConfiguration with the
bucket's existing rules kept as they are and one rule added (`costbot-intelligent-tiering`: current versions to
INTELLIGENT_TIERING after `TRANSITION_DAYS`). Undo removes exactly that rule — the bucket's configuration is then
what it was (no configuration at all, if it had none).

What a bucket holds and how often it is read come from CloudWatch (`BucketSizeBytes` by storage type; `GetRequests`
where request metrics are on), fetched in batches for every bucket of an account and region at listing time, so a
scan of hundreds of buckets makes a couple of CloudWatch requests.

Prices: Amazon S3 pricing, US East (N. Virginia), per GB-month for the first 50 TB: Standard $0.023; in
Intelligent-Tiering objects not accessed for 30 days move to its Infrequent Access tier, $0.0125 (recorded 2026-11).
The ratio used is that of Infrequent Access to Standard (0.0125 / 0.023): the deeper archive tiers would save more,
the monitoring fee ($0.0025 per 1,000 objects of 128 KB or more a month) and transitions ($0.01 per 1,000) less.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from botocore.exceptions import BotoCoreError, ClientError

from bot.adapters.providers.aws.errors import aws_failure, error_code
from bot.adapters.providers.aws.kind import AwsKind
from bot.adapters.providers.aws.metrics import Query, fetch
from bot.domain.errors import ProviderError
from bot.domain.resources import HOURS_PER_MONTH, INVENTORY, ResizeOption, Resource, ResourceRef

STANDARD = "STANDARD"
TIERED = "INTELLIGENT_TIERING"
MANAGED = "LIFECYCLE"  # a rule already moves current versions elsewhere: left alone
RULE_ID = "costbot-intelligent-tiering"
TRANSITION_DAYS = 0
STANDARD_PER_GB = Decimal("0.023")
INFREQUENT_PER_GB = Decimal("0.0125")
MIN_MONTHLY_SAVING = Decimal(1)
RARELY_READ_PER_GIB_DAY = 0.1  # GET requests a day per GiB stored, at most, where request metrics are on
METRIC_DAYS = 3  # storage metrics are daily: the last few days hold the latest
GIB = 1024**3


def _region_of(location: str | None) -> str:
    """GetBucketLocation's answer as a region: none is us-east-1, the legacy "EU" eu-west-1."""
    return {"": "us-east-1", "EU": "eu-west-1"}.get(location or "", location or "us-east-1")


def tier_of(rules: list[dict[str, Any]]) -> str:
    """What the enabled rules do to current versions: move them to Intelligent-Tiering, elsewhere, or nothing."""
    targets = {t.get("StorageClass") for r in rules if r.get("Status") == "Enabled" for t in r.get("Transitions", [])}
    if TIERED in targets:
        return TIERED
    return MANAGED if targets else STANDARD


class S3Buckets(AwsKind):
    name = "bucket"
    arn = ("s3", "")
    permissions: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "list": ("s3:ListAllMyBuckets", "s3:GetBucketLocation", "s3:GetBucketTagging",
                 "s3:GetLifecycleConfiguration"),
        "utilization": ("cloudwatch:GetMetricData",),
        "resize": ("s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration"),
        "tag": ("s3:GetBucketTagging", "s3:PutBucketTagging"),
    }
    capabilities = frozenset({"resize"})
    idle_signal = INVENTORY
    metrics = ()  # fetched with the inventory (below): a bucket's size is what it is judged on
    running_states = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._regions: dict[tuple[str, str], str] = {}  # (account, bucket) -> its region

    def dimensions(self, resource: Resource) -> list[dict[str, str]]:
        return [{"Name": "BucketName", "Value": resource.ref.id}]

    def arn_of(self, ref: ResourceRef) -> str:
        return f"arn:aws:s3:::{ref.id}"

    def id_from_arn(self, service: str, resource: str) -> str | None:
        return None  # a bucket's ARN names no account or region: billing lines name buckets by name

    # -- inventory -------------------------------------------------------------------------------------------
    def _s3(self, account: str, region: str) -> Any:
        return self.client(account, region, "s3")

    def _get(self, what: str, fn: Any, missing: str, **kwargs: Any) -> dict[str, Any] | None:
        try:
            return dict(fn(**kwargs))
        except ClientError as exc:
            if error_code(exc) == missing:
                return None
            raise aws_failure(f"s3 {what}", exc) from exc
        except BotoCoreError as exc:
            raise aws_failure(f"s3 {what}", exc) from exc

    def lifecycle(self, account: str, region: str, bucket: str) -> dict[str, Any] | None:
        """The bucket's lifecycle configuration as S3 returns it (its rules and its default minimum object size
        for transitions); None when it has none."""
        got = self._get("GetBucketLifecycleConfiguration",
                        self._s3(account, region).get_bucket_lifecycle_configuration,
                        "NoSuchLifecycleConfiguration", Bucket=bucket)
        if got is None:
            return None
        got.pop("ResponseMetadata", None)
        return got

    def _names(self, account: str, region: str, only: str | None = None) -> list[str]:
        """The account's buckets in `region` (ListBuckets lists every region's): where each is comes with the
        listing, else from GetBucketLocation once per bucket (a bucket never moves, so it is remembered)."""
        s3 = self._s3(account, region)
        listed = self.call("s3 ListBuckets", s3.list_buckets).get("Buckets", [])
        out = []
        for b in listed:
            if only is not None and b["Name"] != only:
                continue
            where = b.get("BucketRegion") or self._regions.get((account, b["Name"]))
            if where is None:
                got = self._get("GetBucketLocation", s3.get_bucket_location, "NoSuchBucket", Bucket=b["Name"])
                if got is None:
                    continue
                where = self._regions[(account, b["Name"])] = _region_of(got.get("LocationConstraint"))
            if where == region:
                out.append(b["Name"])
        return out

    def _measure(self, account: str, region: str, names: list[str]) -> dict[str, tuple[float | None, float | None]]:
        """(Standard bytes, GET requests a day) per bucket: one batched GetMetricData pass for all of them."""
        queries: list[Query] = []
        for name in names:
            queries.append((name, "bytes", {"Namespace": "AWS/S3", "MetricName": "BucketSizeBytes", "Dimensions": [
                {"Name": "BucketName", "Value": name}, {"Name": "StorageType", "Value": "StandardStorage"}]},
                "Average"))
            queries.append((name, "reads", {"Namespace": "AWS/S3", "MetricName": "GetRequests", "Dimensions": [
                {"Name": "BucketName", "Value": name}, {"Name": "FilterId", "Value": "EntireBucket"}]}, "Sum"))
        end = datetime.now(UTC)
        series = fetch(lambda a, r: self.client(a, r, "cloudwatch"), {(account, region): queries},
                       end - timedelta(days=METRIC_DAYS), end) if queries else {}
        out = {}
        for name in names:
            s = series.get(name, {})
            sizes = sorted(s.get("bytes", []))
            reads = s.get("reads")
            out[name] = (sizes[-1][1] if sizes else None,
                         sum(v for _, v in reads) / METRIC_DAYS if reads else None)
        return out

    def _resources(self, account: str, region: str, names: list[str]) -> list[Resource]:
        measured = self._measure(account, region, names)
        out = []
        for name in names:
            rules = (self.lifecycle(account, region, name) or {}).get("Rules", [])
            tagging = self._get("GetBucketTagging", self._s3(account, region).get_bucket_tagging, "NoSuchTagSet",
                                Bucket=name)
            tags = {t["Key"]: t["Value"] for t in (tagging or {}).get("TagSet", [])}
            size, reads = measured[name]
            gib = int(size // GIB) if size is not None else None
            month = STANDARD_PER_GB * gib if gib is not None else None
            out.append(self.resource(account, region, name, name=name, type=tier_of(rules), state="available",
                                     tags=tags, hourly_price=month / HOURS_PER_MONTH if month is not None else None,
                                     size_gib=gib, reads_per_day=reads))
        return out

    def list(self, account: str, region: str) -> list[Resource]:
        return self._resources(account, region, self._names(account, region))

    def describe(self, ref: ResourceRef) -> Resource | None:
        names = self._names(ref.account, ref.region, only=ref.id)
        found = self._resources(ref.account, ref.region, names)
        return found[0] if found else None

    # -- money -----------------------------------------------------------------------------------------------
    def stop_savings(self, hourly_price: Decimal | None, count: int) -> Decimal | None:
        return None

    def resize_option(self, resource: Resource) -> ResizeOption | None:
        """Standard -> Intelligent-Tiering for a large, rarely read bucket (reads unknown: judged on size)."""
        gib = resource.size_gib
        if resource.type != STANDARD or not gib:
            return None
        if resource.reads_per_day is not None and resource.reads_per_day > RARELY_READ_PER_GIB_DAY * gib:
            return None
        saving = (STANDARD_PER_GB - INFREQUENT_PER_GB) * gib
        if saving < MIN_MONTHLY_SAVING:
            return None
        return ResizeOption(TIERED, saving, price_ratio=INFREQUENT_PER_GB / STANDARD_PER_GB)

    # -- actions ---------------------------------------------------------------------------------------------
    def resize(self, ref: ResourceRef, new_type: str, dry_run: bool) -> str:
        """To Intelligent-Tiering: the existing rules and costbot's one. Back to Standard (Undo): the rules without
        costbot's — no configuration at all when none is left, as before."""
        if new_type not in (TIERED, STANDARD):
            raise ProviderError(f"costbot moves buckets between {STANDARD} and {TIERED} only, not to {new_type}")
        config = self.lifecycle(ref.account, ref.region, ref.id)
        rules = list((config or {}).get("Rules", []))
        kept = [r for r in rules if r.get("ID") != RULE_ID]
        extra = {k: v for k, v in (config or {}).items() if k == "TransitionDefaultMinimumObjectSize"}
        s3 = self._s3(ref.account, ref.region)
        if new_type == TIERED:
            rule = {"ID": RULE_ID, "Filter": {"Prefix": ""}, "Status": "Enabled",
                    "Transitions": [{"Days": TRANSITION_DAYS, "StorageClass": TIERED}]}
            what = (f"the lifecycle rule {RULE_ID} to {ref.id} (current versions to {TIERED} after "
                    f"{TRANSITION_DAYS} days), keeping its {len(kept)} other rule{'s' * (len(kept) != 1)}")
            if dry_run:
                return f"would add {what}"
            self.call("s3 PutBucketLifecycleConfiguration", s3.put_bucket_lifecycle_configuration, Bucket=ref.id,
                      LifecycleConfiguration={"Rules": [*kept, rule]}, **extra)
            return f"added {what}"
        if len(kept) == len(rules):
            return f"{ref.id} has no {RULE_ID} rule; nothing to remove"
        if dry_run:
            return f"would remove the lifecycle rule {RULE_ID} from {ref.id}"
        if kept:
            self.call("s3 PutBucketLifecycleConfiguration", s3.put_bucket_lifecycle_configuration, Bucket=ref.id,
                      LifecycleConfiguration={"Rules": kept}, **extra)
        else:
            self.call("s3 DeleteBucketLifecycle", s3.delete_bucket_lifecycle, Bucket=ref.id)
        return f"removed the lifecycle rule {RULE_ID} from {ref.id}; its configuration is as it was"

    def tag(self, ref: ResourceRef, key: str, value: str) -> None:
        s3 = self._s3(ref.account, ref.region)
        tagging = self._get("GetBucketTagging", s3.get_bucket_tagging, "NoSuchTagSet", Bucket=ref.id)
        tags = [t for t in (tagging or {}).get("TagSet", []) if t["Key"] != key] + [{"Key": key, "Value": value}]
        self.call("s3 PutBucketTagging", s3.put_bucket_tagging, Bucket=ref.id, Tagging={"TagSet": tags})
