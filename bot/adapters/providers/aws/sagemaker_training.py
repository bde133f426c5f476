"""SageMaker training jobs of the last 30 days that ran on on-demand capacity: what managed spot training would
have saved, offered to the owning team as a change for the next run (a past job cannot be changed: no action,
only *Remind me on the next run* and *Dismiss*, which tag the job). Serving endpoints are a different kind and
are never offered spot: an interrupted endpoint drops requests.

Discounts: costbot's conservative assumption of what managed spot training saves per instance family (AWS quotes
"up to 90%" against on-demand; what is paid depends on the Spot market of the day), recorded 2026-11:
`SPOT_DISCOUNTS`, 60 % for a family not listed. The saving itself is the job's own billing lines × that discount,
else its billable hours × the on-demand price × the discount.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import ClassVar

from botocore.exceptions import ClientError

from bot.adapters.providers.aws.errors import aws_failure
from bot.adapters.providers.aws.sagemaker import SageMakerKind
from bot.domain.recommendations import SPOT_DISMISSED as DISMISSED
from bot.domain.recommendations import SPOT_REMIND as REMIND
from bot.domain.recommendations import SPOT_TAG
from bot.domain.resources import INVENTORY, Resource, ResourceRef

LOOKBACK_DAYS = 30
SPOT_DISCOUNTS: dict[str, Decimal] = {  # instance family -> share saved on spot (costbot's assumption)
    "ml.p3": Decimal("0.70"), "ml.p4d": Decimal("0.60"), "ml.p5": Decimal("0.50"), "ml.g4dn": Decimal("0.70"),
    "ml.g5": Decimal("0.70"), "ml.g6": Decimal("0.70"), "ml.m5": Decimal("0.70"), "ml.c5": Decimal("0.70"),
    "ml.trn1": Decimal("0.60"),
}
DEFAULT_DISCOUNT = Decimal("0.60")
_RUN_SUFFIX = re.compile(r"(-\d+)+$")


def family_of(instance_type: str) -> str:
    """`ml.p3.2xlarge` -> `ml.p3`."""
    return ".".join(instance_type.split(".")[:2])


def discount_for(instance_type: str) -> Decimal:
    return SPOT_DISCOUNTS.get(family_of(instance_type), DEFAULT_DISCOUNT)


def run_family(job_name: str) -> str:
    """What repeated runs share: the name without its trailing dates and numbers (`bert-ft-2026-11-20` ->
    `bert-ft`)."""
    return _RUN_SUFFIX.sub("", job_name.lower()) or job_name.lower()


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
        set_aside = tags.get(SPOT_TAG) in (DISMISSED, REMIND) or run_family(name) in dismissed
        discount = discount_for(itype) if on_demand and not set_aside else None
        price = self.prices.get(itype)
        billable = job.get("BillableTimeInSeconds") or job.get("TrainingTimeInSeconds")
        spent = price * count * Decimal(billable) / 3600 if price is not None and billable else None
        return self.resource(account, region, name, name=name, type=itype, state=job["TrainingJobStatus"],
                             tags=tags, count=count, launched_at=job.get("CreationTime"), spot_discount=discount,
                             spot_savings=spent * discount if spent is not None and discount is not None else None)

    def list(self, account: str, region: str) -> list[Resource]:
        sm = self.client(account, region, "sagemaker")
        since = datetime.now(UTC) - timedelta(days=LOOKBACK_DAYS)
        try:
            names = [j["TrainingJobName"] for page in sm.get_paginator("list_training_jobs").paginate(
                CreationTimeAfter=since) for j in page["TrainingJobSummaries"]]
        except ClientError as exc:
            raise aws_failure("sagemaker ListTrainingJobs", exc) from exc
        jobs = [r for r in (self._job(account, region, n, set()) for n in names) if r is not None]
        dismissed = {run_family(r.name) for r in jobs if r.tags.get(SPOT_TAG) == DISMISSED}
        return [replace(r, spot_discount=None, spot_savings=None) if run_family(r.name) in dismissed else r
                for r in jobs]

    def describe(self, ref: ResourceRef) -> Resource | None:
        return self._job(ref.account, ref.region, ref.id, set())
