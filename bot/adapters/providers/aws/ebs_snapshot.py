"""EBS snapshots whose volume is gone. Past the retention (`rules.snapshot_retention_days`) they are offered
Delete, with approval; a snapshot is the copy, so its delete is final (no Undo). Costbot's own snapshots, taken
before it deleted a volume, are among them once their retention is over. Judged on what they are (no metrics).

Price: EBS Snapshots, Standard tier, US East (N. Virginia): $0.05 per GB-month of the blocks they store (recorded
2026-11); the list-price estimate takes the volume's full size (an upper bound), the bill's own lines are better.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from botocore.exceptions import BotoCoreError, ClientError

from bot.adapters.providers.aws.errors import aws_failure, error_code
from bot.adapters.providers.aws.kind import AwsKind
from bot.domain.errors import ProviderError
from bot.domain.resources import HOURS_PER_MONTH, INVENTORY, Resource, ResourceRef

SNAPSHOT_PER_GIB = Decimal("0.05")


class EbsSnapshots(AwsKind):
    name = "snapshot"
    arn = ("ec2", "snapshot")
    permissions: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "list": ("ec2:DescribeSnapshots", "ec2:DescribeVolumes", "ec2:DescribeImages"),
        "utilization": ("ec2:DescribeSnapshots",),  # judged on what it is: no metrics
        "delete": ("ec2:DeleteSnapshot",),
        "tag": ("ec2:CreateTags",),
    }
    capabilities = frozenset({"delete"})  # only when its volume is gone
    idle_signal = INVENTORY
    metrics = ()
    running_states = ()

    def dimensions(self, resource: Resource) -> list[dict[str, str]]:
        return [{"Name": "SnapshotId", "Value": resource.ref.id}]

    def _volumes(self, account: str, region: str) -> set[str]:
        ec2 = self.client(account, region, "ec2")
        try:
            pages = ec2.get_paginator("describe_volumes").paginate(PaginationConfig={"PageSize": 500})
            return {v["VolumeId"] for page in pages for v in page["Volumes"] if v["State"] != "deleted"}
        except (ClientError, BotoCoreError) as exc:
            raise aws_failure("ec2 DescribeVolumes", exc) from exc

    def _in_images(self, account: str, region: str) -> set[str]:
        """Snapshots behind the account's own AMIs: never orphans (and AWS refuses to delete them)."""
        ec2 = self.client(account, region, "ec2")
        images = self.call("ec2 DescribeImages", ec2.describe_images, Owners=["self"]).get("Images", [])
        return {m["Ebs"]["SnapshotId"] for image in images for m in image.get("BlockDeviceMappings", [])
                if m.get("Ebs", {}).get("SnapshotId")}

    def _resource(self, account: str, region: str, snap: dict[str, Any], volumes: set[str]) -> Resource:
        tags = {t["Key"]: t["Value"] for t in snap.get("Tags", [])}
        size = int(snap.get("VolumeSize") or 0)
        month = SNAPSHOT_PER_GIB * size
        orphaned = snap.get("VolumeId") not in volumes and snap["State"] == "completed"
        return self.resource(account, region, snap["SnapshotId"], name=tags.get("Name", snap["SnapshotId"]),
                             type="snapshot", state=snap["State"], tags=tags, launched_at=snap.get("StartTime"),
                             hourly_price=month / HOURS_PER_MONTH, size_gib=size,
                             capabilities=self.capabilities if orphaned else frozenset(),
                             delete_savings=month, delete_price_ratio=Decimal(0), is_copy=True)

    def _describe(self, account: str, region: str, ids: list[str] | None = None) -> list[Resource]:
        ec2 = self.client(account, region, "ec2")
        kwargs: dict[str, Any] = ({"SnapshotIds": ids} if ids else
                                  {"OwnerIds": ["self"], "PaginationConfig": {"PageSize": 1000}})
        try:
            snaps = [s for page in ec2.get_paginator("describe_snapshots").paginate(**kwargs)
                     for s in page["Snapshots"] if s.get("OwnerId", account) == account]
        except ClientError as exc:
            if ids and error_code(exc).startswith("InvalidSnapshot"):
                return []
            raise aws_failure("ec2 DescribeSnapshots", exc) from exc
        except BotoCoreError as exc:
            raise aws_failure("ec2 DescribeSnapshots", exc) from exc
        if not snaps:
            return []
        volumes = self._volumes(account, region)
        images = self._in_images(account, region)
        return [self._resource(account, region, s, volumes) for s in snaps if s["SnapshotId"] not in images]

    def list(self, account: str, region: str) -> list[Resource]:
        return self._describe(account, region)

    def describe(self, ref: ResourceRef) -> Resource | None:
        found = self._describe(ref.account, ref.region, [ref.id])
        return found[0] if found else None

    def stop_savings(self, hourly_price: Decimal | None, count: int) -> Decimal | None:
        return None

    def delete(self, ref: ResourceRef, dry_run: bool, note: str) -> str:
        """DeleteSnapshot, only while its volume is still gone (re-read now)."""
        current = self.describe(ref)
        if current is None:
            raise ProviderError(f"{ref.id} is gone")
        if not current.supports("delete"):
            raise ProviderError(f"the volume of {ref.id} exists again; the snapshot was kept")
        ec2 = self.client(ref.account, ref.region, "ec2")
        if dry_run:
            self.dry_call("ec2 DeleteSnapshot", ec2.delete_snapshot, SnapshotId=ref.id)
            return f"would delete snapshot {ref.id} ({current.size_gib} GiB)"
        self.call("ec2 DeleteSnapshot", ec2.delete_snapshot, SnapshotId=ref.id)
        return f"deleted snapshot {ref.id} ({current.size_gib} GiB)"

    def tag(self, ref: ResourceRef, key: str, value: str) -> None:
        ec2 = self.client(ref.account, ref.region, "ec2")
        self.call("ec2 CreateTags", ec2.create_tags, Resources=[ref.id], Tags=[{"Key": key, "Value": value}])
