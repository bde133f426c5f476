"""EBS volumes. A `gp2` volume is offered a change to `gp3` of the same size with at least gp2's baseline
performance (IOPS and throughput provisioned where gp2's exceed gp3's included ones), done online with
ModifyVolume — no detach, no downtime; Undo changes it back. A volume attached to nothing can be deleted: a
snapshot first (waited for, tagged with the volume's own tags, who and why), then DeleteVolume; Undo creates a
volume from that snapshot in the same zone, type and tags. Judged on what the volume is (no metrics).

Prices: the EBS list prices of US East (N. Virginia), per GiB-month, as published on the Amazon EBS pricing page
(the figures have been these since gp3's launch in December 2020; recorded 2026-11). They give the price ratio
between the tiers; the saving itself is that ratio applied to the volume's own billing lines when costbot has
them (see ScanService), else the list-price difference.
"""

from __future__ import annotations

import time
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
SNAPSHOT_PER_GIB = Decimal("0.05")  # EBS Snapshots, Standard tier: at most the volume's size (only used blocks)
VOLUME_ID_TAG = "costbot:volume-id"  # on the snapshot: what it was taken of, and how the volume comes back
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
        "delete": ("ec2:CreateSnapshot", "ec2:DescribeSnapshots", "ec2:CreateTags", "ec2:DeleteVolume"),
        "restore": ("ec2:DescribeSnapshots", "ec2:CreateVolume", "ec2:CreateTags"),
    }
    capabilities = frozenset({"resize", "delete", "restore"})  # delete only when attached to nothing
    idle_signal = INVENTORY
    metrics = ()
    running_states = ()

    def dimensions(self, resource: Resource) -> list[dict[str, str]]:
        return [{"Name": "VolumeId", "Value": resource.ref.id}]

    def _resource(self, account: str, region: str, vol: dict[str, Any]) -> Resource:
        tags = {t["Key"]: t["Value"] for t in vol.get("Tags", [])}
        size = int(vol["Size"])
        month = monthly_list_price(vol["VolumeType"], size)
        unused = vol["State"] == "available" and not vol.get("Attachments")
        can = self.capabilities if unused else self.capabilities - {"delete"}
        snapshot = SNAPSHOT_PER_GIB * size
        return self.resource(account, region, vol["VolumeId"], name=tags.get("Name", vol["VolumeId"]),
                             type=vol["VolumeType"], state=vol["State"], tags=tags, launched_at=vol.get("CreateTime"),
                             hourly_price=month / HOURS_PER_MONTH if month is not None else None, size_gib=size,
                             capabilities=can, delete_savings=month - snapshot if month else None,
                             delete_price_ratio=snapshot / month if month else None)

    def _describe(self, account: str, region: str, ids: list[str] | None = None) -> list[Resource]:
        ec2 = self.client(account, region, "ec2")
        # without ids, pages of 500: an account's thousands of volumes never come back as one huge answer
        kwargs: dict[str, Any] = {"VolumeIds": ids} if ids else {"PaginationConfig": {"PageSize": 500}}
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
            self.dry_call("ec2 ModifyVolume", ec2.modify_volume, **kwargs)
            return f"would change {ref.id} from {current.type} to {new_type}{detail}, online"
        self.call("ec2 ModifyVolume", ec2.modify_volume, **kwargs)
        return f"changed {ref.id} from {current.type} to {new_type}{detail}, online"

    def tag(self, ref: ResourceRef, key: str, value: str) -> None:
        ec2 = self.client(ref.account, ref.region, "ec2")
        self.call("ec2 CreateTags", ec2.create_tags, Resources=[ref.id], Tags=[{"Key": key, "Value": value}])

    # -- snapshot & delete, and back --------------------------------------------------------------------------
    def _volume(self, ref: ResourceRef) -> dict[str, Any] | None:
        ec2 = self.client(ref.account, ref.region, "ec2")
        try:
            found = ec2.describe_volumes(VolumeIds=[ref.id])["Volumes"]
        except ClientError as exc:
            if error_code(exc).startswith("InvalidVolume"):
                return None
            raise aws_failure("ec2 DescribeVolumes", exc) from exc
        return dict(found[0]) if found else None

    def _wait_snapshot(self, ref: ResourceRef, snapshot_id: str) -> None:
        ec2 = self.client(ref.account, ref.region, "ec2")
        wait = self.settings.wait_seconds
        deadline = time.monotonic() + wait
        while True:
            (snap,) = self.call("ec2 DescribeSnapshots", ec2.describe_snapshots, SnapshotIds=[snapshot_id])["Snapshots"]
            if snap["State"] == "completed":
                return
            if snap["State"] == "error":
                raise ProviderError(f"the snapshot {snapshot_id} of {ref.id} failed; the volume was kept")
            if time.monotonic() > deadline:
                raise ProviderError(f"the snapshot {snapshot_id} of {ref.id} was not complete in {wait:.0f} s; "
                                    "the volume was kept")
            time.sleep(min(5.0, max(0.2, wait / 100)))

    def delete(self, ref: ResourceRef, dry_run: bool, note: str) -> str:
        """Snapshot, wait for it, then delete — never the volume without a complete snapshot, never an attached
        one. The snapshot carries the volume's tags and what Undo needs (zone, type, size, IOPS, throughput)."""
        vol = self._volume(ref)
        if vol is None:
            raise ProviderError(f"{ref.id} is gone")
        if vol["State"] != "available" or vol.get("Attachments"):
            raise ProviderError(f"{ref.id} is attached now; it was kept")
        ec2 = self.client(ref.account, ref.region, "ec2")
        if dry_run:
            self.dry_call("ec2 CreateSnapshot", ec2.create_snapshot, VolumeId=ref.id)
            return f"would snapshot {ref.id} ({vol['Size']} GiB), then delete it"
        own = [t for t in vol.get("Tags", []) if not t["Key"].startswith(("aws:", "costbot:"))]
        kept = [{"Key": VOLUME_ID_TAG, "Value": ref.id},
                {"Key": "costbot:volume-type", "Value": vol["VolumeType"]},
                {"Key": "costbot:volume-size", "Value": str(vol["Size"])},
                {"Key": "costbot:volume-zone", "Value": vol["AvailabilityZone"]},
                {"Key": "costbot:volume-iops", "Value": str(vol.get("Iops") or "")},
                {"Key": "costbot:volume-throughput", "Value": str(vol.get("Throughput") or "")},
                {"Key": "costbot:why", "Value": note[:256] or "deleted by costbot"}]
        snap = self.call("ec2 CreateSnapshot", ec2.create_snapshot, VolumeId=ref.id,
                         Description=f"costbot: {ref.id} before it was deleted",
                         TagSpecifications=[{"ResourceType": "snapshot", "Tags": (own + kept)[-50:]}])
        snapshot_id = snap["SnapshotId"]
        self._wait_snapshot(ref, snapshot_id)
        self.call("ec2 DeleteVolume", ec2.delete_volume, VolumeId=ref.id)
        return f"snapshot {snapshot_id} of {ref.id} taken, then {ref.id} deleted"

    def restore(self, ref: ResourceRef, dry_run: bool) -> str:
        """A new volume from the latest complete snapshot `delete` took of this one: same zone, type, IOPS,
        throughput and tags (the old id is gone; the new volume says where it came from)."""
        ec2 = self.client(ref.account, ref.region, "ec2")
        snaps = self.call("ec2 DescribeSnapshots", ec2.describe_snapshots, OwnerIds=["self"],
                          Filters=[{"Name": f"tag:{VOLUME_ID_TAG}", "Values": [ref.id]}])["Snapshots"]
        done = sorted((s for s in snaps if s["State"] == "completed"), key=lambda s: s["StartTime"])
        if not done:
            raise ProviderError(f"no snapshot of {ref.id} taken by costbot was found; nothing was restored")
        snap = done[-1]
        tags = {t["Key"]: t["Value"] for t in snap.get("Tags", [])}
        kwargs: dict[str, Any] = {"SnapshotId": snap["SnapshotId"], "AvailabilityZone": tags["costbot:volume-zone"],
                                  "VolumeType": tags["costbot:volume-type"]}
        if tags.get("costbot:volume-type") in ("gp3", "io1", "io2") and tags.get("costbot:volume-iops"):
            kwargs["Iops"] = int(tags["costbot:volume-iops"])
        if tags.get("costbot:volume-type") == "gp3" and tags.get("costbot:volume-throughput"):
            kwargs["Throughput"] = int(tags["costbot:volume-throughput"])
        own = [{"Key": k, "Value": v} for k, v in tags.items() if not k.startswith(("aws:", "costbot:"))]
        own.append({"Key": "costbot:restored-from", "Value": f"{ref.id} ({snap['SnapshotId']})"})
        if dry_run:
            self.dry_call("ec2 CreateVolume", ec2.create_volume, **kwargs)
            return f"would create a volume from {snap['SnapshotId']} in {kwargs['AvailabilityZone']}"
        vol = self.call("ec2 CreateVolume", ec2.create_volume, TagSpecifications=[
            {"ResourceType": "volume", "Tags": own}], **kwargs)
        return (f"restored {ref.id} as {vol['VolumeId']} from {snap['SnapshotId']} ({tags.get('costbot:volume-size')} "
                f"GiB {kwargs['VolumeType']} in {kwargs['AvailabilityZone']})")
