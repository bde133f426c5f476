"""EC2 instances (GPU families included). Stop is StopInstances; resize is stop -> change type -> start again if it
was running (a running instance is never modified). Judged on CPU, then network and GPU for the near-idle ones.
Every action honours `dry_run` with EC2's own DryRun.

An instance doing batch training (any of `rules.training_tags`, default `workload=training`) on on-demand capacity
is offered spot for its next launch (advice, no action: a running instance cannot change its market), unless it is
idle (Stop saves more) or people set it aside (`spot.py`)."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar

from botocore.exceptions import BotoCoreError, ClientError

from bot.adapters.providers.aws.errors import aws_failure, error_code
from bot.adapters.providers.aws.kind import GPU_METRIC, HOURS_PER_MONTH, AwsKind, Metric
from bot.adapters.providers.aws.spot import discount_for, dismissed_families, run_family, set_aside
from bot.domain.errors import ProviderError
from bot.domain.resources import Resource, ResourceRef

STATES = ["pending", "running", "stopping", "stopped"]
_REQUESTED_AT = re.compile(r"\((\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (?:GMT|UTC)\)")
SPOT_CHANGE = ("on Spot capacity (RunInstances InstanceMarketOptions MarketType=spot, or a Spot-backed Auto Scaling "
               "group or EC2 Fleet), with checkpoints to S3 so an interrupted run resumes")


class Ec2Instances(AwsKind):
    name = "ec2"
    arn = ("ec2", "instance")
    permissions: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "list": ("ec2:DescribeInstances",),
        "utilization": ("cloudwatch:GetMetricData",),
        "stop": ("ec2:StopInstances",),
        "start": ("ec2:StartInstances",),
        "resize": ("ec2:StopInstances", "ec2:ModifyInstanceAttribute", "ec2:StartInstances"),
        "tag": ("ec2:CreateTags",),
    }
    capabilities = frozenset({"stop", "start", "resize", "schedule"})
    running_states = ("running",)
    stopped_states = ("stopping", "stopped")
    metrics = (Metric("cpu", "AWS/EC2", "CPUUtilization", "Maximum"),)
    detail_metrics = (Metric("net_in", "AWS/EC2", "NetworkIn", "Sum"),
                      Metric("net_out", "AWS/EC2", "NetworkOut", "Sum"), GPU_METRIC)

    def dimensions(self, resource: Resource) -> list[dict[str, str]]:
        return [{"Name": "InstanceId", "Value": resource.ref.id}]

    def trains(self, tags: Mapping[str, str]) -> bool:
        """Batch training by the configured tags (keys and values compared without case)."""
        lowered = {k.lower(): v.lower() for k, v in tags.items()}
        return any(lowered.get(k.lower()) == v.lower() for k, v in self.settings.training_tags)

    @staticmethod
    def requested_at(reason: str | None) -> datetime | None:
        """When a request last changed the instance's state: `User initiated (2026-12-01 21:03:44 GMT)`."""
        found = _REQUESTED_AT.search(reason or "")
        return datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC) if found else None

    def _resource(self, account: str, region: str, inst: dict[str, Any]) -> Resource:
        tags = {t["Key"]: t["Value"] for t in inst.get("Tags", [])}
        itype = inst["InstanceType"]
        on_demand = inst.get("InstanceLifecycle") not in ("spot", "scheduled", "capacity-block")
        discount = (discount_for(itype) if on_demand and self.trains(tags) and set_aside(tags) is None else None)
        price = self.prices.get(itype)
        return self.resource(
            account, region, inst["InstanceId"], name=tags.get("Name", inst["InstanceId"]), type=itype,
            state=inst["State"]["Name"], tags=tags, launched_at=inst.get("LaunchTime"), spot_discount=discount,
            spot_savings=price * HOURS_PER_MONTH * discount if price is not None and discount is not None else None,
            spot_reason=(f"batch training on on-demand capacity; Spot typically saves {discount:.0%} on {itype} — "
                         f"next launch: {SPOT_CHANGE}") if discount is not None else None,
            state_changed_at=self.requested_at(inst.get("StateTransitionReason")))

    def _describe(self, account: str, region: str, ids: list[str] | None = None) -> list[Resource]:
        ec2 = self.client(account, region, "ec2")
        kwargs: dict[str, Any] = {"Filters": [{"Name": "instance-state-name", "Values": STATES}]}
        if ids:
            kwargs["InstanceIds"] = ids
        out = []
        try:
            for page in ec2.get_paginator("describe_instances").paginate(**kwargs):
                for reservation in page["Reservations"]:
                    out += [self._resource(account, region, i) for i in reservation["Instances"]]
        except ClientError as exc:
            if ids and error_code(exc).startswith("InvalidInstanceID"):
                return []
            raise aws_failure("ec2 DescribeInstances", exc) from exc
        except BotoCoreError as exc:
            raise aws_failure("ec2 DescribeInstances", exc) from exc
        return out

    def list(self, account: str, region: str) -> list[Resource]:
        """Every instance; a dismissed training instance's later ones (the same name without its trailing dates
        and numbers) are not offered spot either, while the dismissed one still exists."""
        found = self._describe(account, region)
        dismissed = dismissed_families((r.name, r.tags) for r in found if self.trains(r.tags))
        return [replace(r, spot_discount=None, spot_savings=None, spot_reason=None)
                if r.spot_discount is not None and run_family(r.name) in dismissed else r for r in found]

    def describe(self, ref: ResourceRef) -> Resource | None:
        found = self._describe(ref.account, ref.region, [ref.id])
        return found[0] if found else None

    # -- actions ---------------------------------------------------------------------------------------------
    def _power(self, ref: ResourceRef, on: bool, dry_run: bool) -> str:
        ec2 = self.client(ref.account, ref.region, "ec2")
        call = ec2.start_instances if on else ec2.stop_instances
        what = f"ec2 {'Start' if on else 'Stop'}Instances"
        if dry_run:
            self.dry_call(what, call, InstanceIds=[ref.id])
            return f"would {'start' if on else 'stop'} {ref.id}"
        self.call(what, call, InstanceIds=[ref.id])
        return f"{'started' if on else 'stopped'} {ref.id}"

    def stop(self, ref: ResourceRef, dry_run: bool) -> str:
        return self._power(ref, on=False, dry_run=dry_run)

    def start(self, ref: ResourceRef, dry_run: bool, count: int | None) -> str:
        return self._power(ref, on=True, dry_run=dry_run)

    def _wait(self, ref: ResourceRef, state: str) -> None:
        wait = self.settings.wait_seconds
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            found = self.describe(ref)
            if found and found.state == state:
                return
            time.sleep(min(5.0, max(0.2, wait / 100)))
        raise ProviderError(f"{ref.id} did not reach '{state}' in {wait:.0f} s")

    def resize(self, ref: ResourceRef, new_type: str, dry_run: bool) -> str:
        current = self.describe(ref)
        if current is None:
            raise ProviderError(f"{ref.id} is gone")
        ec2 = self.client(ref.account, ref.region, "ec2")
        was_running = current.state in ("running", "pending")
        if dry_run:
            if was_running:
                self.dry_call("ec2 StopInstances", ec2.stop_instances, InstanceIds=[ref.id])
            return (f"would {'stop, ' if was_running else ''}change {ref.id} from {current.type} to {new_type}"
                    f"{' and start it again' if was_running else ''}")
        if was_running:
            self.call("ec2 StopInstances", ec2.stop_instances, InstanceIds=[ref.id])
            self._wait(ref, "stopped")
        try:
            self.call("ec2 ModifyInstanceAttribute", ec2.modify_instance_attribute, InstanceId=ref.id,
                      InstanceType={"Value": new_type})
        finally:
            if was_running:  # restore the run state even when the change was refused
                self.call("ec2 StartInstances", ec2.start_instances, InstanceIds=[ref.id])
        return f"changed {ref.id} from {current.type} to {new_type}" + (" and started it again" if was_running else "")

    def tag(self, ref: ResourceRef, key: str, value: str) -> None:
        ec2 = self.client(ref.account, ref.region, "ec2")
        self.call("ec2 CreateTags", ec2.create_tags, Resources=[ref.id], Tags=[{"Key": key, "Value": value}])
