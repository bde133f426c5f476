"""EBS volumes. A `gp2` volume is offered a change to `gp3` of the same size with at least gp2's baseline
performance (IOPS and throughput provisioned where gp2's exceed gp3's included ones), done online with
ModifyVolume — no detach, no downtime; Undo changes it back. Judged on what the volume is (no metrics).

Prices: the EBS list prices of US East (N. Virginia), per GiB-month, as published on the Amazon EBS pricing page
(the figures have been these since gp3's launch in December 2020; recorded 2026-11). They give the price ratio
between the tiers; the saving itself is that ratio applied to the volume's own billing lines when costbot has
them (see ScanService), else the list-price difference.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from botocore.exceptions import BotoCoreError, ClientError

from bot.adapters.providers.aws.errors import aws_failure, error_code
from bot.adapters.providers.aws.kind import AwsKind
from bot.domain.errors import ProviderError
from bot.domain.resources import HOURS_PER_MONTH, INVENTORY, ResizeOption, Resource, ResourceRef

PRICE_SOURCE = "Amazon EBS pricing, US East (N. Virginia), list prices per GiB-month (recorded 2026-11)"
GP2_PER_GIB = Decimal("0.10")
GP3_PER_GIB = Decimal("0.08")
GP3_PER_IOPS = Decimal("0.005")  # each provisioned IOPS above the 3,000 included
GP3_PER_MIBPS = Decimal("0.040")  # each provisioned MiB/s above the 125 included
GP3_IOPS, GP3_MIBPS = 3000, 125
MIN_MONTHLY_SAVING = Decimal(1)  # below this at list price a change is not worth a message (an 8 GiB root volume)


def gp2_baseline(size_gib: int) -> tuple[int, int]:
    """gp2's baseline (IOPS, MiB/s): 3 IOPS per GiB between 100 and 16,000; 128 MiB/s up to 170 GiB, 250 MiB/s
    from 334 GiB (in between 250 only while burst credits last, so 128 is its baseline)."""
    return min(16000, max(100, 3 * size_gib)), 250 if size_gib >= 334 else 128


def gp3_settings(size_gib: int) -> tuple[int, int]:
    """The gp3 (IOPS, MiB/s) that match or beat the gp2 volume's baseline."""
    iops, mibps = gp2_baseline(size_gib)
    return max(GP3_IOPS, iops), max(GP3_MIBPS, mibps)


def monthly_list_price(volume_type: str, size_gib: int) -> Decimal | None:
    """A month at list price: gp2 by size; gp3 by size plus what `gp3_settings` provisions above the included."""
    if volume_type == "gp2":
        return GP2_PER_GIB * size_gib
    if volume_type == "gp3":
        iops, mibps = gp3_settings(size_gib)
        return (GP3_PER_GIB * size_gib + GP3_PER_IOPS * (iops - GP3_IOPS) + GP3_PER_MIBPS * (mibps - GP3_MIBPS))
    return None


class EbsVolumes(AwsKind):
    name = "volume"
    arn = ("ec2", "volume")
    permissions: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "list": ("ec2:DescribeVolumes",),
        "utilization": ("ec2:DescribeVolumes",),  # judged on what the volume is: no metrics
        "resize": ("ec2:ModifyVolume",),
        "tag": ("ec2:CreateTags",),
    }
    capabilities = frozenset({"resize"})
    idle_signal = INVENTORY
    metrics = ()
    running_states = ()

    def dimensions(self, resource: Resource) -> list[dict[str, str]]:
        return [{"Name": "VolumeId", "Value": resource.ref.id}]

    def _resource(self, account: str, region: str, vol: dict[str, Any]) -> Resource:
        tags = {t["Key"]: t["Value"] for t in vol.get("Tags", [])}
        size = int(vol["Size"])
        month = monthly_list_price(vol["VolumeType"], size)
        return self.resource(account, region, vol["VolumeId"], name=tags.get("Name", vol["VolumeId"]),
                             type=vol["VolumeType"], state=vol["State"], tags=tags, launched_at=vol.get("CreateTime"),
                             hourly_price=month / HOURS_PER_MONTH if month is not None else None, size_gib=size)

    def _describe(self, account: str, region: str, ids: list[str] | None = None) -> list[Resource]:
        ec2 = self.client(account, region, "ec2")
        kwargs: dict[str, Any] = {"VolumeIds": ids} if ids else {}
        out = []
        try:
            for page in ec2.get_paginator("describe_volumes").paginate(**kwargs):
                out += [self._resource(account, region, v) for v in page["Volumes"] if v["State"] != "deleted"]
        except ClientError as exc:
            if ids and error_code(exc).startswith("InvalidVolume"):
                return []
            raise aws_failure("ec2 DescribeVolumes", exc) from exc
        except BotoCoreError as exc:
            raise aws_failure("ec2 DescribeVolumes", exc) from exc
        return out

    def list(self, account: str, region: str) -> list[Resource]:
        return self._describe(account, region)

    def describe(self, ref: ResourceRef) -> Resource | None:
        found = self._describe(ref.account, ref.region, [ref.id])
        return found[0] if found else None

    # -- money -----------------------------------------------------------------------------------------------
    def stop_savings(self, hourly_price: Decimal | None, count: int) -> Decimal | None:
        return None  # a volume is never stopped

    def resize_option(self, resource: Resource) -> ResizeOption | None:
        """gp2 -> gp3, with the list-price saving and the price ratio the billing lines are scaled by."""
        if resource.type != "gp2" or resource.size_gib is None or resource.size_gib <= 0:
            return None
        now = monthly_list_price("gp2", resource.size_gib)
        then = monthly_list_price("gp3", resource.size_gib)
        if now is None or then is None or now - then < MIN_MONTHLY_SAVING:
            return None
        return ResizeOption("gp3", now - then, price_ratio=then / now)

    # -- actions ---------------------------------------------------------------------------------------------
    def resize(self, ref: ResourceRef, new_type: str, dry_run: bool) -> str:
        """ModifyVolume to another type, online. To gp3, IOPS and throughput at least gp2's baseline."""
        current = self.describe(ref)
        if current is None:
            raise ProviderError(f"{ref.id} is gone")
        if new_type not in ("gp2", "gp3"):
            raise ProviderError(f"costbot changes volumes between gp2 and gp3 only, not to {new_type}")
        kwargs: dict[str, Any] = {"VolumeId": ref.id, "VolumeType": new_type}
        detail = ""
        if new_type == "gp3":
            iops, mibps = gp3_settings(current.size_gib or 0)
            kwargs.update(Iops=iops, Throughput=mibps)
            detail = f" ({iops:,} IOPS, {mibps} MiB/s)"
        ec2 = self.client(ref.account, ref.region, "ec2")
        if dry_run:
            try:
                ec2.modify_volume(DryRun=True, **kwargs)
            except ClientError as exc:
                if error_code(exc) != "DryRunOperation":
                    raise aws_failure("ec2 ModifyVolume (dry run)", exc) from exc
            return f"would change {ref.id} from {current.type} to {new_type}{detail}, online"
        self.call("ec2 ModifyVolume", ec2.modify_volume, **kwargs)
        return f"changed {ref.id} from {current.type} to {new_type}{detail}, online"

    def tag(self, ref: ResourceRef, key: str, value: str) -> None:
        ec2 = self.client(ref.account, ref.region, "ec2")
        self.call("ec2 CreateTags", ec2.create_tags, Resources=[ref.id], Tags=[{"Key": key, "Value": value}])
