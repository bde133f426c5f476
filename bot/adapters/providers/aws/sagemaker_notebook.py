"""SageMaker notebook instances: Stop is StopNotebookInstance, Start brings it back. Judged on CPU (the
notebook's CloudWatch CPU metric)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from botocore.exceptions import ClientError

from bot.adapters.providers.aws.kind import Metric
from bot.adapters.providers.aws.sagemaker import SageMakerKind
from bot.domain.resources import Resource, ResourceRef


class SageMakerNotebooks(SageMakerKind):
    name = "notebook"
    arn = ("sagemaker", "notebook-instance")
    permissions: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "list": ("sagemaker:ListNotebookInstances", "sagemaker:DescribeNotebookInstance", "sagemaker:ListTags"),
        "utilization": ("cloudwatch:GetMetricData",),
        "stop": ("sagemaker:StopNotebookInstance",),
        "start": ("sagemaker:StartNotebookInstance",),
        "tag": ("sagemaker:AddTags",),
    }
    capabilities = frozenset({"stop", "start", "schedule"})
    running_states = ("InService",)
    stopped_states = ("Stopping", "Stopped")
    metrics = (Metric("cpu", "/aws/sagemaker/NotebookInstances", "CPUUtilization", "Maximum"),)

    def dimensions(self, resource: Resource) -> list[dict[str, str]]:
        return [{"Name": "NotebookInstanceName", "Value": resource.ref.id}]

    def _notebook(self, account: str, region: str, name: str) -> Resource | None:
        sm = self.client(account, region, "sagemaker")
        try:
            nb = sm.describe_notebook_instance(NotebookInstanceName=name)
        except ClientError:
            return None
        tags = self.tags_of(account, region, nb["NotebookInstanceArn"])
        return self.resource(account, region, name, name=name, type=nb["InstanceType"],
                             state=nb["NotebookInstanceStatus"], tags=tags)

    def list(self, account: str, region: str) -> list[Resource]:
        sm = self.client(account, region, "sagemaker")
        out = []
        for page in sm.get_paginator("list_notebook_instances").paginate():
            for nb in page["NotebookInstances"]:
                found = self._notebook(account, region, nb["NotebookInstanceName"])
                if found is not None:
                    out.append(found)
        return out

    def describe(self, ref: ResourceRef) -> Resource | None:
        return self._notebook(ref.account, ref.region, ref.id)

    def _power(self, ref: ResourceRef, on: bool, dry_run: bool) -> str:
        verb, done = ("start", "started") if on else ("stop", "stopped")
        if dry_run:
            return f"would {verb} notebook {ref.id}"
        sm = self.client(ref.account, ref.region, "sagemaker")
        call = sm.start_notebook_instance if on else sm.stop_notebook_instance
        self.call(f"sagemaker {verb.title()}NotebookInstance", call, NotebookInstanceName=ref.id)
        return f"{done} notebook {ref.id}"

    def stop(self, ref: ResourceRef, dry_run: bool) -> str:
        return self._power(ref, on=False, dry_run=dry_run)

    def start(self, ref: ResourceRef, dry_run: bool, count: int | None) -> str:
        return self._power(ref, on=True, dry_run=dry_run)
