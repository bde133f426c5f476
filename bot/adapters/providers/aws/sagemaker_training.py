"""SageMaker training jobs of the last 30 days that ran on on-demand capacity: what managed spot training would
have saved, offered to the owning team as a change for the next run (a past job cannot be changed: no action,
only *Remind me on the next run* and *Dismiss*, which tag the job). Serving endpoints are a different kind and
are never offered spot: an interrupted endpoint drops requests.

Discounts and set-aside runs: `spot.py`. The saving is the job's own billing lines × the family's discount, else its
billable hours × the on-demand price × the discount.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import ClassVar

from botocore.exceptions import ClientError

from bot.adapters.providers.aws.errors import aws_failure
from bot.adapters.providers.aws.sagemaker import SageMakerKind
from bot.adapters.providers.aws.spot import discount_for, dismissed_families, run_family, set_aside
from bot.domain.resources import INVENTORY, Resource, ResourceRef

LOOKBACK_DAYS = 30
CHANGE = ("use_spot_instances=True, max_wait at least max_run (time to wait for capacity), and checkpoint_s3_uri so "
          "an interrupted run resumes")


class SageMakerTrainingJobs(SageMakerKind):
    name = "training"
    arn = ("sagemaker", "training-job")
    permissions: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "list": ("sagemaker:ListTrainingJobs", "sagemaker:DescribeTrainingJob", "sagemaker:ListTags"),
        "utilization": ("sagemaker:DescribeTrainingJob",),  # judged on how it ran: no metrics
        "tag": ("sagemaker:AddTags",),
    }
    capabilities = frozenset()  # a past job is not changed: the recommendation is for the next run
    idle_signal = INVENTORY
    metrics = ()
    running_states = ("InProgress",)

    def dimensions(self, resource: Resource) -> list[dict[str, str]]:
        return [{"Name": "TrainingJobName", "Value": resource.ref.id}]

    def _job(self, account: str, region: str, name: str, dismissed: set[str]) -> Resource | None:
        sm = self.client(account, region, "sagemaker")
        try:
            job = sm.describe_training_job(TrainingJobName=name)
        except ClientError:
            return None
        tags = self.tags_of(account, region, job["TrainingJobArn"])
        itype = job["ResourceConfig"]["InstanceType"]
        count = int(job["ResourceConfig"].get("InstanceCount") or 1)
        on_demand = not job.get("EnableManagedSpotTraining")
        offered = on_demand and set_aside(tags) is None and run_family(name) not in dismissed
        discount = discount_for(itype) if offered else None
        price = self.prices.get(itype)
        billable = job.get("BillableTimeInSeconds") or job.get("TrainingTimeInSeconds")
        spent = price * count * Decimal(billable) / 3600 if price is not None and billable else None
        return self.resource(account, region, name, name=name, type=itype, state=job["TrainingJobStatus"],
                             tags=tags, count=count, launched_at=job.get("CreationTime"), spot_discount=discount,
                             spot_savings=spent * discount if spent is not None and discount is not None else None,
                             spot_reason=(f"ran on on-demand capacity; managed spot training typically saves "
                                          f"{discount:.0%} on {itype} — next run: {CHANGE}") if discount else None)

    def list(self, account: str, region: str) -> list[Resource]:
        sm = self.client(account, region, "sagemaker")
        since = datetime.now(UTC) - timedelta(days=LOOKBACK_DAYS)
        try:
            names = [j["TrainingJobName"] for page in sm.get_paginator("list_training_jobs").paginate(
                CreationTimeAfter=since) for j in page["TrainingJobSummaries"]]
        except ClientError as exc:
            raise aws_failure("sagemaker ListTrainingJobs", exc) from exc
        jobs = [r for r in (self._job(account, region, n, set()) for n in names) if r is not None]
        dismissed = dismissed_families((r.name, r.tags) for r in jobs)
        return [replace(r, spot_discount=None, spot_savings=None, spot_reason=None)
                if run_family(r.name) in dismissed else r for r in jobs]

    def describe(self, ref: ResourceRef) -> Resource | None:
        return self._job(ref.account, ref.region, ref.id, set())
