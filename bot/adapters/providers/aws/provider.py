"""The AWS provider: its resource kinds (the registry in kinds.py) across the configured accounts and regions.

Inventory, metrics and actions dispatch to the kind a resource key names. Each account is reached with its own
credentials (AssumeRole on its `role_arn`, or the default chain for the default credentials' own account), and
acts only where the config says: a kind it has, an account and a region of its config. Utilization comes from
CloudWatch in two batched passes: the first pass of every kind's metrics for everything, then the detail metrics
(network, GPU) only for the resources the caller picks from the first figures.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import boto3

from bot.adapters.providers.aws.kind import AwsKind, KindSettings
from bot.adapters.providers.aws.kinds import KINDS, permissions
from bot.adapters.providers.aws.metrics import Query, Series, fetch
from bot.adapters.providers.aws.session import AccountSessions
from bot.adapters.providers.prices import aws_prices
from bot.domain.actions import ActionNotAllowed
from bot.domain.errors import ConfigError, CostbotError
from bot.domain.resources import Capability, ResizeOption, Resource, ResourceRef, Utilization

log = logging.getLogger("costbot.aws")

_ARN = re.compile(r"^arn:aws[a-z-]*:([a-z0-9-]+):([a-z0-9-]+):(\d{12}):(.+)$")


@dataclass(frozen=True)
class Account:
    id: str
    role_arn: str | None = None
    regions: tuple[str, ...] = ()  # empty: the provider's regions


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


class AwsProvider:
    #: IAM actions each operation needs: the union of what the kinds declare (the README's policies)
    PERMISSIONS: ClassVar[dict[str, tuple[str, ...]]] = permissions(KINDS)

    def __init__(self, regions: Sequence[str], accounts: Iterable[Account | Mapping[str, Any]] = (), *,
                 name: str = "aws", session_factory: Callable[[], Any] = boto3.session.Session,
                 gpu_metric: tuple[str, str] = ("CWAgent", "nvidia_smi_utilization_gpu"),
                 endpoint_min_instances: int = 1, wait_seconds: float = 600,
                 training_tags: Mapping[str, str] | None = None,
                 kinds: Sequence[type[AwsKind]] = KINDS, clock: Callable[[], datetime] | None = None) -> None:
        self.name = name
        self.regions = list(regions)
        self.accounts = [a if isinstance(a, Account) else
                         Account(str(a["id"]), a.get("role_arn"), tuple(a.get("regions") or ())) for a in accounts]
        self.sessions = AccountSessions({a.id: a.role_arn for a in self.accounts}, session_factory, clock)
        trains = tuple(training_tags.items()) if training_tags is not None else KindSettings.training_tags
        settings = KindSettings(name, gpu_metric, endpoint_min_instances, wait_seconds, trains)
        prices = aws_prices()
        self.kinds: dict[str, AwsKind] = {k.name: k(self.sessions, settings, prices) for k in kinds}

    @classmethod
    def from_config(cls, cfg: Any, rules: Any, state: Any = None) -> AwsProvider:
        """From a `providers:` entry of kind aws and the global rules (GPU metric, endpoint minimum); the cloud
        keeps its own state (`state` is unused). `kinds` picks resource kinds from the registry by name."""
        kinds = KINDS
        if cfg.kinds is not None:
            known = {k.name: k for k in KINDS}
            unknown = [k for k in cfg.kinds if k not in known]
            if unknown:
                raise ConfigError(f"providers.{cfg.name}.kinds: unknown kind(s) {', '.join(unknown)}; costbot knows "
                                  f"{', '.join(known)}")
            kinds = tuple(known[k] for k in dict.fromkeys(cfg.kinds))
        return cls(cfg.regions, [Account(a.id, a.role_arn, tuple(a.regions or ())) for a in cfg.account_list()],
                   name=cfg.name, gpu_metric=(rules.gpu_metric.get("namespace", "CWAgent"),
                                              rules.gpu_metric.get("name", "nvidia_smi_utilization_gpu")),
                   endpoint_min_instances=rules.endpoint_min_instances, training_tags=rules.training_tags, kinds=kinds)

    def requests(self) -> Counter[str]:
        """API requests made so far, by "service:Operation"."""
        return self.sessions.requests()

    # -- where it acts ---------------------------------------------------------------------------------------
    def configured(self) -> dict[str, list[str]]:
        """Account id -> its regions; without listed accounts, the default credentials' own account."""
        if not self.accounts:
            return {self.sessions.caller_account(): list(self.regions)}
        return {a.id: list(a.regions or self.regions) for a in self.accounts}

    def targets(self) -> list[tuple[str, str]]:
        """(account id, region) pairs to scan."""
        return [(account, region) for account, regions in self.configured().items() for region in regions]

    def check_ref(self, ref: ResourceRef) -> None:
        """Act only where the config says: a resource kind this provider has, in a configured account and one of
        that account's regions. A button's value is never trusted for where to act."""
        if ref.provider != self.name or ref.kind not in self.kinds:
            raise ActionNotAllowed(f"'{ref.kind}' resources of '{ref.provider}' are not something costbot acts on")
        regions = self.configured().get(ref.account)
        if regions is None:
            raise ActionNotAllowed(f"account {ref.account} is not configured for costbot's actions")
        if ref.region not in regions:
            raise ActionNotAllowed(f"region {ref.region} is not configured for costbot's actions in account "
                                   f"{ref.account}")

    def resource_key(self, resource_id: str) -> str | None:
        """A billing ResourceId (an ARN) -> the key of the resource, when it is of a kind this provider has and
        can stop (what an anomaly's cause offers is Stop: storage is left to its own findings), in one of its
        accounts and that account's regions; else None."""
        m = _ARN.match(resource_id or "")
        if m is None:
            return None
        service, region, account, rest = m.groups()
        for kind in self.kinds.values():
            if "stop" not in kind.capabilities:
                continue
            ident = kind.id_from_arn(service, rest)
            if ident is None:
                continue
            try:
                regions = self.configured().get(account, [])
            except CostbotError as exc:  # the default account could not be asked: the bill stays a bill
                log.warning("cannot map %s to a resource of %s: %s", resource_id, self.name, exc)
                return None
            return ResourceRef(self.name, account, region, kind.name, ident).key if region in regions else None
        return None

    def _kind(self, ref: ResourceRef) -> AwsKind:
        try:
            return self.kinds[ref.kind]
        except KeyError:
            raise ActionNotAllowed(f"'{ref.kind}' resources of '{ref.provider}' are not something costbot acts on") \
                from None

    # -- inventory -------------------------------------------------------------------------------------------
    def kinds_with(self, capability: Capability) -> frozenset[str]:
        return frozenset(k.name for k in self.kinds.values() if capability in k.capabilities)

    def list_resources(self, capability: Capability | None = None) -> list[Resource]:
        """Every kind's resources in every account and region; with `capability`, only the kinds declaring it."""
        kinds = [k for k in self.kinds.values() if capability is None or capability in k.capabilities]
        out: list[Resource] = []
        for account, region in self.targets() if kinds else []:
            for kind in kinds:
                out += kind.list(account, region)
        return out

    def describe(self, ref: ResourceRef) -> Resource | None:
        """Live state of one resource (None when it is gone): what actions re-check before acting."""
        return self._kind(ref).describe(ref)

    # -- utilization -------------------------------------------------------------------------------------------
    def _fetch(self, resources: Iterable[Resource], start: datetime, end: datetime, detail: bool) -> Series:
        queries: dict[tuple[str, str], list[Query]] = {}
        for res in resources:
            for field_name, metric, stat in self._kind(res.ref).metric_queries(res, detail):
                queries.setdefault((res.ref.account, res.ref.region), []).append(
                    (res.ref.key, field_name, metric, stat))
        return fetch(lambda account, region: self.sessions.client(account, region, "cloudwatch"), queries, start,
                     end)

    def utilization(self, resources: Sequence[Resource], hours: int, recent_hours: int,
                    end: datetime | None = None,
                    detail: Callable[[Resource, Utilization], bool] | None = None) -> dict[str, Utilization]:
        """Hourly metrics over the last `hours` (p95) and `recent_hours` (maxima); the detail metrics are fetched
        only for the resources `detail` picks from their first-pass figures."""
        end = end or datetime.now(UTC)
        start = end - timedelta(hours=hours)
        recent_start = end - timedelta(hours=recent_hours)

        def recent(points: list[tuple[datetime, float]]) -> list[float]:
            return [v for t, v in points if t >= recent_start]

        def whole(points: list[tuple[datetime, float]]) -> list[float]:
            return [v for _, v in points]

        first = self._fetch(resources, start, end, detail=False)
        usage: dict[str, Utilization] = {}
        for res in resources:
            s = first.get(res.ref.key, {})
            cpu_all, cpu = whole(s.get("cpu", [])), recent(s.get("cpu", []))
            calls = recent(s.get("invocations", []))
            usage[res.ref.key] = Utilization(
                hours=len(cpu or calls), cpu_max=max(cpu) if cpu else None,
                invocations=sum(calls) if "invocations" in s else None, days=len(cpu_all) / 24,
                cpu_p95=_percentile(cpu_all, 0.95) if cpu_all else None,
            )
        wanted = [r for r in resources if self._kind(r.ref).detail_metrics
                  and (detail is None or detail(r, usage[r.ref.key]))]
        if wanted:
            second = self._fetch(wanted, start, end, detail=True)
            for res in wanted:
                s = second.get(res.ref.key, {})
                net_in = dict(s.get("net_in", []))
                net = [v + net_in.get(t, 0.0) for t, v in s.get("net_out", []) if t >= recent_start]
                gpu_all, gpu = whole(s.get("gpu", [])), recent(s.get("gpu", []))
                base = usage[res.ref.key]
                usage[res.ref.key] = Utilization(
                    hours=base.hours, cpu_max=base.cpu_max, invocations=base.invocations, days=base.days,
                    cpu_p95=base.cpu_p95, gpu_max=max(gpu) if gpu else None,
                    gpu_p95=_percentile(gpu_all, 0.95) if gpu_all else None, network_max=max(net) if net else None,
                )
        return usage

    # -- actions: each kind's own ------------------------------------------------------------------------------
    def stop(self, ref: ResourceRef, dry_run: bool = False) -> str:
        return self._kind(ref).stop(ref, dry_run)

    def start(self, ref: ResourceRef, dry_run: bool = False, count: int | None = None) -> str:
        return self._kind(ref).start(ref, dry_run, count)

    def resize(self, ref: ResourceRef, new_type: str, dry_run: bool = False) -> str:
        return self._kind(ref).resize(ref, new_type, dry_run)

    def tag(self, ref: ResourceRef, key: str, value: str) -> None:
        self._kind(ref).tag(ref, key, value)

    def delete(self, ref: ResourceRef, dry_run: bool = False, note: str = "") -> str:
        return self._kind(ref).delete(ref, dry_run, note)

    def restore(self, ref: ResourceRef, dry_run: bool = False) -> str:
        return self._kind(ref).restore(ref, dry_run)

    def resize_option(self, resource: Resource) -> ResizeOption | None:
        return self._kind(resource.ref).resize_option(resource)



if TYPE_CHECKING:  # the port it implements, checked by mypy
    from bot.ports import ResourceProvider

    def _implements(provider: AwsProvider) -> ResourceProvider:
        return provider
