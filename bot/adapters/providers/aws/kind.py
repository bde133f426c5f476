"""What an AWS resource kind declares and does: the base of the kind registry.

A kind names itself (the `kind` of its resource keys) and its ARN, declares the IAM actions each operation needs,
the CloudWatch metrics it is judged on (a first pass for every resource, a detail pass only for the likely idle or
oversized ones), what costbot can do with it and what "stop" means for it, and estimates its own savings. It
lists, describes, stops, starts, resizes and tags its resources; the provider dispatches to it by kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from bot.adapters.providers.aws.errors import aws_failure, call, error_code
from bot.adapters.providers.aws.session import AccountSessions
from bot.adapters.providers.aws.sizes import is_gpu_type, smaller_type
from bot.domain.errors import ProviderError
from bot.domain.resources import (
    HOURS_PER_MONTH,
    POWER_OFF,
    UTILIZATION,
    Capability,
    IdleSignal,
    ResizeOption,
    Resource,
    ResourceRef,
    StopMeans,
)

OPERATIONS = ("list", "utilization", "stop", "start", "resize", "tag", "delete", "restore")


@dataclass(frozen=True)
class Metric:
    """A CloudWatch metric a kind is judged on; `field` is what it feeds (cpu, invocations, net_in, net_out,
    gpu). A `gpu` metric is the configured GPU metric (`rules.gpu_metric`), asked for accelerated types only."""

    field: str
    namespace: str = ""
    name: str = ""
    stat: str = "Maximum"
    gpu: bool = False


GPU_METRIC = Metric("gpu", gpu=True)


@dataclass(frozen=True)
class KindSettings:
    provider: str  # the provider's configured name: the first part of resource keys
    gpu_metric: tuple[str, str] = ("CWAgent", "nvidia_smi_utilization_gpu")
    endpoint_min_instances: int = 1
    wait_seconds: float = 600
    # tags that mark an instance as batch training (any one of them): offered spot for its next run
    training_tags: tuple[tuple[str, str], ...] = (("workload", "training"),)


class AwsKind:
    name: ClassVar[str]  # the kind in resource keys
    arn: ClassVar[tuple[str, str]]  # (service, resource type) in its ARNs: arn:aws:SERVICE:…:TYPE/ID
    permissions: ClassVar[Mapping[str, tuple[str, ...]]]  # operation (OPERATIONS) -> IAM actions
    capabilities: ClassVar[frozenset[Capability]]
    stop_means: ClassVar[StopMeans] = POWER_OFF
    idle_signal: ClassVar[IdleSignal] = UTILIZATION
    metrics: ClassVar[tuple[Metric, ...]]  # first pass: every running resource
    detail_metrics: ClassVar[tuple[Metric, ...]] = ()  # second pass: the ones the scan wants a closer look at
    running_states: ClassVar[tuple[str, ...]]
    stopped_states: ClassVar[tuple[str, ...]] = ()

    def __init__(self, sessions: AccountSessions, settings: KindSettings, prices: Mapping[str, Decimal]) -> None:
        self.sessions = sessions
        self.settings = settings
        self.prices = prices

    # -- building resources --------------------------------------------------------------------------------
    def resource(self, account: str, region: str, ident: str, *, name: str, type: str, state: str,
                 tags: dict[str, str], count: int = 1, launched_at: Any = None,
                 desired_count: int | None = None, hourly_price: Decimal | None = None,
                 size_gib: int | None = None, reads_per_day: float | None = None,
                 capabilities: frozenset[Capability] | None = None, delete_savings: Decimal | None = None,
                 delete_price_ratio: Decimal | None = None, is_copy: bool = False,
                 spot_discount: Decimal | None = None, spot_savings: Decimal | None = None,
                 spot_reason: str | None = None, state_changed_at: datetime | None = None) -> Resource:
        """A resource of this kind, with what it can do and how it is judged filled in. `hourly_price` for kinds
        priced by size rather than by type (storage)."""
        price = hourly_price if hourly_price is not None else self.prices.get(type)
        return Resource(
            ResourceRef(self.settings.provider, account, region, self.name, ident), name=name, type=type,
            state=state, tags=tags, hourly_price=price, count=count, launched_at=launched_at,
            running=state in self.running_states,
            stopped=self.is_stopped(state, count if desired_count is None else desired_count),
            capabilities=self.capabilities if capabilities is None else capabilities, stop_means=self.stop_means,
            idle_signal=self.idle_signal,
            gpu_expected=any(m.gpu for m in self.metrics + self.detail_metrics) and is_gpu_type(type),
            stop_savings=self.stop_savings(price, count), size_gib=size_gib, reads_per_day=reads_per_day,
            delete_savings=delete_savings, delete_price_ratio=delete_price_ratio, is_copy=is_copy,
            spot_discount=spot_discount, spot_savings=spot_savings, spot_reason=spot_reason,
            state_changed_at=state_changed_at,
        )

    def is_stopped(self, state: str, count: int) -> bool:
        return state in self.stopped_states

    # -- money -----------------------------------------------------------------------------------------------
    def stop_savings(self, hourly_price: Decimal | None, count: int) -> Decimal | None:
        """A month of what Stop saves: every instance's on-demand price."""
        return hourly_price * count * HOURS_PER_MONTH if hourly_price is not None else None

    def resize_option(self, resource: Resource) -> ResizeOption | None:
        """The next smaller size in the family that the price table knows, saving the price difference."""
        if "resize" not in self.capabilities:
            return None
        target = smaller_type(resource.type)
        while target is not None and target not in self.prices:
            target = smaller_type(target)
        if target is None:
            return None
        price = self.prices[target]
        saving = ((resource.hourly_price - price) * resource.count * HOURS_PER_MONTH
                  if resource.hourly_price is not None else None)
        return ResizeOption(target, saving)

    # -- identity ------------------------------------------------------------------------------------------
    def arn_of(self, ref: ResourceRef) -> str:
        service, rtype = self.arn
        return f"arn:aws:{service}:{ref.region}:{ref.account}:{rtype}/{ref.id}"

    def id_from_arn(self, service: str, resource: str) -> str | None:
        """The resource id in an ARN's resource part (`instance/i-0abc`), when the ARN is of this kind."""
        rtype, sep, ident = resource.partition("/")
        return ident if sep and ident and (service, rtype) == self.arn else None

    # -- utilization ---------------------------------------------------------------------------------------
    def dimensions(self, resource: Resource) -> list[dict[str, str]]:
        raise NotImplementedError

    def metric_queries(self, resource: Resource, detail: bool) -> list[tuple[str, dict[str, Any], str]]:
        """(field, CloudWatch Metric, statistic) for one resource and pass."""
        out = []
        dims = self.dimensions(resource)
        for m in self.detail_metrics if detail else self.metrics:
            namespace, name = m.namespace, m.name
            if m.gpu:
                if not is_gpu_type(resource.type):
                    continue
                namespace, name = self.settings.gpu_metric
            out.append((m.field, {"Namespace": namespace, "MetricName": name, "Dimensions": dims}, m.stat))
        return out

    # -- inventory and actions -------------------------------------------------------------------------------
    def client(self, account: str, region: str, service: str) -> Any:
        return self.sessions.client(account, region, service)

    def call(self, what: str, fn: Any, **kwargs: Any) -> Any:
        return call(what, fn, **kwargs)

    def dry_call(self, what: str, fn: Any, **kwargs: Any) -> None:
        """EC2's own DryRun: permission and request checked, nothing changed."""
        try:
            fn(DryRun=True, **kwargs)
        except ClientError as exc:
            if error_code(exc) == "DryRunOperation":
                return
            raise aws_failure(f"{what} (dry run)", exc) from exc

    def list(self, account: str, region: str) -> list[Resource]:
        raise NotImplementedError

    def describe(self, ref: ResourceRef) -> Resource | None:
        raise NotImplementedError

    def stop(self, ref: ResourceRef, dry_run: bool) -> str:
        raise self._unsupported("stopping")

    def start(self, ref: ResourceRef, dry_run: bool, count: int | None) -> str:
        raise self._unsupported("starting")

    def resize(self, ref: ResourceRef, new_type: str, dry_run: bool) -> str:
        raise self._unsupported("resizing")

    def tag(self, ref: ResourceRef, key: str, value: str) -> None:
        raise self._unsupported("tagging")

    def delete(self, ref: ResourceRef, dry_run: bool, note: str) -> str:
        raise self._unsupported("deleting")

    def restore(self, ref: ResourceRef, dry_run: bool) -> str:
        raise self._unsupported("restoring")

    def _unsupported(self, what: str) -> ProviderError:
        return ProviderError(f"{what} a {self.name} is not supported")
