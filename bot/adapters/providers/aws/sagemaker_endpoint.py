"""SageMaker real-time endpoints. They cannot stop: Stop scales the endpoint's variant down to
`rules.endpoint_min_instances` (1 by default) with UpdateEndpointWeightsAndCapacities, and Start (the Undo)
scales it back to the count it had; so Stop saves what the instances above the minimum cost. Resize is a new
endpoint config with the smaller type, then UpdateEndpoint. Judged idle on invocations."""

from __future__ import annotations

import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from bot.adapters.providers.aws.kind import Metric
from bot.adapters.providers.aws.sagemaker import SageMakerKind
from bot.domain.errors import ProviderError
from bot.domain.resources import HOURS_PER_MONTH, INVOCATIONS, SCALE_TO_MINIMUM, Resource, ResourceRef

VARIANT_TAG = "costbot:variant"  # the variant costbot reads and scales (the endpoint config's first)


class SageMakerEndpoints(SageMakerKind):
    name = "endpoint"
    arn = ("sagemaker", "endpoint")
    permissions: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "list": ("sagemaker:ListEndpoints", "sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig",
                 "sagemaker:ListTags"),
        "utilization": ("cloudwatch:GetMetricData",),
        "stop": ("sagemaker:UpdateEndpointWeightsAndCapacities",),
        "start": ("sagemaker:UpdateEndpointWeightsAndCapacities",),
        "resize": ("sagemaker:CreateEndpointConfig", "sagemaker:UpdateEndpoint"),
        "tag": ("sagemaker:AddTags",),
    }
    capabilities = frozenset({"stop", "start", "resize"})
    stop_means = SCALE_TO_MINIMUM
    idle_signal = INVOCATIONS
    running_states = ("InService",)
    metrics = (Metric("invocations", "AWS/SageMaker", "Invocations", "Sum"),)

    @property
    def minimum(self) -> int:
        return self.settings.endpoint_min_instances

    def is_stopped(self, state: str, count: int) -> bool:
        return count <= self.minimum

    def stop_savings(self, hourly_price: Decimal | None, count: int) -> Decimal | None:
        if hourly_price is None:
            return None
        return hourly_price * max(count - self.minimum, 0) * HOURS_PER_MONTH

    def dimensions(self, resource: Resource) -> list[dict[str, str]]:
        variant = resource.tags.get(VARIANT_TAG, "AllTraffic")
        return [{"Name": "EndpointName", "Value": resource.ref.id}, {"Name": "VariantName", "Value": variant}]

    def _endpoint(self, account: str, region: str, name: str) -> Resource | None:
        sm = self.client(account, region, "sagemaker")
        try:
            ep = sm.describe_endpoint(EndpointName=name)
        except ClientError:
            return None
        cfg = sm.describe_endpoint_config(EndpointConfigName=ep["EndpointConfigName"])
        variant = cfg["ProductionVariants"][0]
        live: dict[str, Any] = next(
            (v for v in ep.get("ProductionVariants", []) if v["VariantName"] == variant["VariantName"]), {})
        count = int(live.get("CurrentInstanceCount") or variant.get("InitialInstanceCount") or 1)
        desired = live.get("DesiredInstanceCount")
        tags = self.tags_of(account, region, ep["EndpointArn"])
        tags.setdefault(VARIANT_TAG, variant["VariantName"])
        return self.resource(account, region, name, name=name, type=variant["InstanceType"],
                             state=ep["EndpointStatus"], tags=tags, count=count,
                             desired_count=int(desired) if desired is not None else None)

    def list(self, account: str, region: str) -> list[Resource]:
        sm = self.client(account, region, "sagemaker")
        out = []
        for page in sm.get_paginator("list_endpoints").paginate():
            for ep in page["Endpoints"]:
                found = self._endpoint(account, region, ep["EndpointName"])
                if found is not None:
                    out.append(found)
        return out

    def describe(self, ref: ResourceRef) -> Resource | None:
        return self._endpoint(ref.account, ref.region, ref.id)

    def _scale(self, ref: ResourceRef, target: int | None, dry_run: bool) -> str:
        endpoint = self.describe(ref)
        if endpoint is None:
            raise ProviderError(f"endpoint {ref.id} is gone")
        to = target if target is not None else endpoint.count
        change = f"endpoint {ref.id} from {endpoint.count} to {to} instance(s)"
        if dry_run:
            return f"would scale {change}"
        sm = self.client(ref.account, ref.region, "sagemaker")
        variant = endpoint.tags.get(VARIANT_TAG, "AllTraffic")
        self.call("sagemaker UpdateEndpointWeightsAndCapacities", sm.update_endpoint_weights_and_capacities,
                  EndpointName=ref.id, DesiredWeightsAndCapacities=[{"VariantName": variant,
                                                                      "DesiredInstanceCount": to}])
        return f"scaled {change}"

    def stop(self, ref: ResourceRef, dry_run: bool) -> str:
        return self._scale(ref, self.minimum, dry_run)

    def start(self, ref: ResourceRef, dry_run: bool, count: int | None) -> str:
        return self._scale(ref, count, dry_run)

    def resize(self, ref: ResourceRef, new_type: str, dry_run: bool) -> str:
        sm = self.client(ref.account, ref.region, "sagemaker")
        ep = self.call("sagemaker DescribeEndpoint", sm.describe_endpoint, EndpointName=ref.id)
        cfg = self.call("sagemaker DescribeEndpointConfig", sm.describe_endpoint_config,
                        EndpointConfigName=ep["EndpointConfigName"])
        variants = [dict(v) for v in cfg["ProductionVariants"]]
        old_type = variants[0]["InstanceType"]
        if dry_run:
            return f"would move endpoint {ref.id} from {old_type} to {new_type}"
        variants[0]["InstanceType"] = new_type
        new_name = f"{ref.id}-{new_type.replace('.', '-')}-{int(time.time())}"[:63]
        keep = ("VariantName", "ModelName", "InitialInstanceCount", "InstanceType", "InitialVariantWeight")
        self.call("sagemaker CreateEndpointConfig", sm.create_endpoint_config, EndpointConfigName=new_name,
                  ProductionVariants=[{k: v[k] for k in keep if k in v} for v in variants])
        self.call("sagemaker UpdateEndpoint", sm.update_endpoint, EndpointName=ref.id, EndpointConfigName=new_name)
        return f"moved endpoint {ref.id} from {old_type} to {new_type}"
