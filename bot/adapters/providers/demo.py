"""The demo provider: the demo organization's instances, notebooks and endpoints (bot/demo.py), acted on for real
with no cloud account. What a Stop, Start, Resize or tag changes is kept in the app-state database, so the whole
loop — scan, Stop / Resize / Snooze, approvals, Undo, audit, budget enforcement — works in the terminal and in
Slack, and a change made in one is seen by the other. It implements the same ResourceProvider port as AWS, with
the same kinds (ec2, notebook, endpoint), capabilities, states and savings rules; without a store it keeps its
state in memory, which makes it the fastest fake for service tests.

Metrics come from each resource's profile in the demo organization: an idle box stays idle, a busy one busy, and
a resized one works harder in proportion to the capacity it lost (prices stand in for capacity).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from bot.adapters.providers.aws.sizes import is_gpu_type, smaller_type
from bot.adapters.providers.prices import aws_prices
from bot.adapters.state.demo_repository import DemoState
from bot.demo import DemoResource, LiveProfile, live_resources
from bot.domain.actions import ActionNotAllowed
from bot.domain.errors import ProviderError
from bot.domain.resources import (
    HOURS_PER_MONTH,
    INVOCATIONS,
    POWER_OFF,
    SCALE_TO_MINIMUM,
    UTILIZATION,
    Capability,
    IdleSignal,
    ResizeOption,
    Resource,
    ResourceRef,
    StopMeans,
    Utilization,
)

OPERATIONS = ("list", "utilization", "stop", "start", "resize", "tag")


@dataclass(frozen=True)
class DemoKind:
    """What a kind can do and what its states are called: the same as the AWS kind of the same name."""

    capabilities: frozenset[Capability]
    running: tuple[str, ...]  # states in which it is up and billed
    stopped: tuple[str, ...]  # states in which a Stop has taken effect
    on: str  # the state Start leaves it in
    off: str  # the state Stop leaves it in
    stop_means: StopMeans = POWER_OFF
    idle_signal: IdleSignal = UTILIZATION
    gpu_metric: bool = False  # judged on GPU too (for accelerated types)


KINDS: dict[str, DemoKind] = {
    "ec2": DemoKind(frozenset({"stop", "start", "resize", "schedule"}), ("running",), ("stopping", "stopped"),
                    on="running", off="stopped", gpu_metric=True),
    "notebook": DemoKind(frozenset({"stop", "start", "schedule"}), ("InService",), ("Stopping", "Stopped"),
                         on="InService", off="Stopped"),
    "endpoint": DemoKind(frozenset({"stop", "start", "resize"}), ("InService",), (), on="InService",
                         off="InService", stop_means=SCALE_TO_MINIMUM, idle_signal=INVOCATIONS),
}


class DemoFleetStore(Protocol):
    """Where the demo provider keeps what changed (the app-state database, or memory)."""

    def states(self, provider: str) -> dict[str, DemoState]: ...

    def save(self, provider: str, resource_id: str, state: DemoState) -> None: ...

    def reset(self, provider: str) -> int: ...


class MemoryFleetStore:
    """State in this process only: tests, and a demo provider with no database."""

    def __init__(self) -> None:
        self._states: dict[tuple[str, str], DemoState] = {}
        self._lock = threading.Lock()

    def states(self, provider: str) -> dict[str, DemoState]:
        with self._lock:
            return {rid: s for (p, rid), s in self._states.items() if p == provider}

    def save(self, provider: str, resource_id: str, state: DemoState) -> None:
        with self._lock:
            self._states[(provider, resource_id)] = state

    def reset(self, provider: str) -> int:
        with self._lock:
            gone = [k for k in self._states if k[0] == provider]
            for k in gone:
                del self._states[k]
            return len(gone)


@dataclass(frozen=True)
class _Member:
    """One resource of the demo fleet: its billing line, its profile and its reference."""

    billing: DemoResource
    profile: LiveProfile
    ref: ResourceRef

    @property
    def initial(self) -> DemoState:
        return DemoState(self.profile.state, self.billing.rtype, self.profile.count, dict(self.billing.tags))


def resource_id_of(billing: DemoResource) -> str:
    """The id in a resource's reference: the last part of its billing ResourceId (an ARN's resource id)."""
    return billing.resource_id.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


class DemoProvider:
    """The demo organization's resources behind the ResourceProvider port."""

    #: nothing to grant: there is no cloud behind it
    PERMISSIONS: ClassVar[dict[str, tuple[str, ...]]] = {op: () for op in OPERATIONS}

    def __init__(self, name: str = "demo", store: DemoFleetStore | None = None, endpoint_min_instances: int = 1,
                 fleet: Sequence[tuple[DemoResource, LiveProfile]] | None = None,
                 prices: Mapping[str, Decimal] | None = None) -> None:
        self.name = name
        self.store: DemoFleetStore = store if store is not None else MemoryFleetStore()
        self.minimum = endpoint_min_instances
        self.prices = dict(prices) if prices is not None else aws_prices()
        members = [_Member(res, profile, ResourceRef(name, res.account, res.region, profile.kind, resource_id_of(res)))
                   for res, profile in (fleet if fleet is not None else live_resources())]
        self.members = {m.ref.id: m for m in members}
        self.by_billing_id = {m.billing.resource_id: m for m in members}
        self._requests: Counter[str] = Counter()
        self._lock = threading.Lock()  # one change at a time: read, change, write

    @classmethod
    def from_config(cls, cfg: Any, rules: Any, state: Any = None) -> DemoProvider:
        """From a `providers:` entry of kind demo; `state` is the app-state database that keeps its changes."""
        store: DemoFleetStore | None = None
        if state is not None:
            from bot.adapters.state.demo_repository import SqlDemoFleetStore

            store = SqlDemoFleetStore(state)
        return cls(cfg.name, store, endpoint_min_instances=rules.endpoint_min_instances)

    def requests(self) -> Counter[str]:
        """Calls made so far, by "demo:Operation" (the demo's stand-in for API requests)."""
        return Counter(self._requests)

    def _count(self, operation: str) -> None:
        self._requests[f"demo:{operation}"] += 1

    def reset(self) -> int:
        """Every resource back to how the demo organization describes it; returns how many had changed."""
        return self.store.reset(self.name)

    # -- where it acts -----------------------------------------------------------------------------------------
    def check_ref(self, ref: ResourceRef) -> None:
        """Only the demo organization's resources, by their own kind, account and region."""
        member = self.members.get(ref.id)
        if ref.provider != self.name or ref.kind not in KINDS or member is None or member.ref != ref:
            raise ActionNotAllowed(f"'{ref.kind}' resource {ref.id} is not one of the demo provider's")

    def resource_key(self, resource_id: str) -> str | None:
        """A billing ResourceId of the demo data -> the key of the running resource it names."""
        member = self.by_billing_id.get(resource_id or "")
        return member.ref.key if member is not None else None

    # -- inventory ---------------------------------------------------------------------------------------------
    def _resource(self, member: _Member, state: DemoState) -> Resource:
        kind = KINDS[member.ref.kind]
        price = self.prices.get(state.type)
        down = state.state in kind.stopped or (kind.stop_means == SCALE_TO_MINIMUM and state.count <= self.minimum)
        billed = state.count - self.minimum if kind.stop_means == SCALE_TO_MINIMUM else state.count
        return Resource(
            member.ref, name=member.billing.name, type=state.type, state=state.state, tags=dict(state.tags),
            hourly_price=price, count=state.count, running=state.state in kind.running, stopped=down,
            capabilities=kind.capabilities, stop_means=kind.stop_means, idle_signal=kind.idle_signal,
            gpu_expected=kind.gpu_metric and is_gpu_type(state.type),
            stop_savings=price * max(billed, 0) * HOURS_PER_MONTH if price is not None else None,
        )

    def _states(self) -> dict[str, DemoState]:
        saved = self.store.states(self.name)
        return {rid: saved.get(rid, m.initial) for rid, m in self.members.items()}

    def kinds_with(self, capability: Capability) -> frozenset[str]:
        return frozenset(name for name, kind in KINDS.items() if capability in kind.capabilities)

    def list_resources(self, capability: Capability | None = None) -> list[Resource]:
        self._count("ListResources")
        states = self._states()
        return [self._resource(m, states[rid]) for rid, m in self.members.items()
                if capability is None or capability in KINDS[m.ref.kind].capabilities]

    def describe(self, ref: ResourceRef) -> Resource | None:
        """Live state of one resource; None for one the demo organization does not have."""
        self._count("Describe")
        member = self.members.get(ref.id)
        if member is None or member.ref != ref:
            return None
        return self._resource(member, self.store.states(self.name).get(ref.id, member.initial))

    # -- utilization -------------------------------------------------------------------------------------------
    def _load(self, member: _Member, now_type: str) -> float:
        """How much harder it works than its profile says: the capacity it lost to a resize (by price)."""
        was, now = self.prices.get(member.billing.rtype), self.prices.get(now_type)
        return float(was / now) if was and now and now < was else 1.0

    def utilization(self, resources: Sequence[Resource], hours: int, recent_hours: int,
                    end: datetime | None = None,
                    detail: Callable[[Resource, Utilization], bool] | None = None) -> dict[str, Utilization]:
        """Each resource's profile, over full windows of hourly metrics."""
        self._count("GetMetrics")
        out: dict[str, Utilization] = {}
        for res in resources:
            member = self.members.get(res.ref.id)
            if member is None:
                continue
            p, load = member.profile, self._load(member, res.type)

            def scaled(value: float | None, p_load: float = load) -> float | None:
                return min(100.0, value * p_load) if value is not None else None

            gpu = KINDS[res.ref.kind].gpu_metric and is_gpu_type(res.type)
            out[res.ref.key] = Utilization(
                hours=recent_hours, cpu_max=scaled(p.cpu_max), gpu_max=scaled(p.gpu_max) if gpu else None,
                network_max=p.network_mb * 1e6 if res.idle_signal == UTILIZATION else None,
                invocations=p.invocations if res.idle_signal == INVOCATIONS else None, days=hours / 24,
                cpu_p95=scaled(p.cpu_p95), gpu_p95=scaled(p.gpu_p95) if gpu else None)
        return out

    # -- actions -----------------------------------------------------------------------------------------------
    def _change(self, ref: ResourceRef, operation: str, change: Callable[[Resource, DemoState], DemoState],
                dry_run: bool, says: Callable[[Resource, DemoState], str]) -> str:
        """Read, change and keep one resource's state (one change at a time); a dry run says what it would do."""
        self.check_ref(ref)
        self._count(operation)
        with self._lock:
            member = self.members[ref.id]
            before = self.store.states(self.name).get(ref.id, member.initial)
            resource = self._resource(member, before)
            after = change(resource, before)
            if dry_run:
                return f"would {says(resource, after)}"
            self.store.save(self.name, ref.id, after)
        return says(resource, after)

    def stop(self, ref: ResourceRef, dry_run: bool = False) -> str:
        kind = KINDS[ref.kind]
        if kind.stop_means == SCALE_TO_MINIMUM:
            return self._change(ref, "Scale", lambda r, s: replace(s, count=min(s.count, self.minimum)), dry_run,
                                lambda r, s: f"scale endpoint {r.name} from {r.count} to {s.count} instance(s)"
                                if dry_run else f"scaled endpoint {r.name} from {r.count} to {s.count} instance(s)")
        return self._change(ref, "Stop", lambda r, s: replace(s, state=kind.off), dry_run,
                            lambda r, s: f"{'stop' if dry_run else 'stopped'} {r.name}")

    def start(self, ref: ResourceRef, dry_run: bool = False, count: int | None = None) -> str:
        kind = KINDS[ref.kind]
        if kind.stop_means == SCALE_TO_MINIMUM:
            return self._change(ref, "Scale", lambda r, s: replace(s, count=count or s.count), dry_run,
                                lambda r, s: f"scale endpoint {r.name} from {r.count} to {s.count} instance(s)"
                                if dry_run else f"scaled endpoint {r.name} from {r.count} to {s.count} instance(s)")
        return self._change(ref, "Start", lambda r, s: replace(s, state=kind.on), dry_run,
                            lambda r, s: f"{'start' if dry_run else 'started'} {r.name}")

    def resize(self, ref: ResourceRef, new_type: str, dry_run: bool = False) -> str:
        self.check_ref(ref)
        if "resize" not in KINDS[ref.kind].capabilities:
            raise ProviderError(f"resizing a {ref.kind} is not supported")
        if new_type not in self.prices:
            raise ProviderError(f"{new_type} is not an instance type the demo knows")

        def says(r: Resource, s: DemoState) -> str:
            again = " (stopped, changed and started again)" if r.running and ref.kind == "ec2" else ""
            return f"{'change' if dry_run else 'changed'} {r.name} from {r.type} to {s.type}{again}"

        return self._change(ref, "Resize", lambda r, s: replace(s, type=new_type), dry_run, says)

    def tag(self, ref: ResourceRef, key: str, value: str) -> None:
        self._change(ref, "Tag", lambda r, s: replace(s, tags={**s.tags, key: value}), False,
                     lambda r, s: f"tagged {r.name} {key}={value}")

    def delete(self, ref: ResourceRef, dry_run: bool = False, note: str = "") -> str:
        self.check_ref(ref)
        raise ProviderError(f"deleting a {ref.kind} is not supported")

    def restore(self, ref: ResourceRef, dry_run: bool = False) -> str:
        self.check_ref(ref)
        raise ProviderError(f"restoring a {ref.kind} is not supported")

    def resize_option(self, resource: Resource) -> ResizeOption | None:
        """The next smaller size the price table knows, saving the price difference (as for AWS)."""
        if not resource.supports("resize"):
            return None
        target = smaller_type(resource.type)
        while target is not None and target not in self.prices:
            target = smaller_type(target)
        if target is None:
            return None
        saving = ((resource.hourly_price - self.prices[target]) * resource.count * HOURS_PER_MONTH
                  if resource.hourly_price is not None else None)
        return ResizeOption(target, saving)


if TYPE_CHECKING:  # the port it implements, checked by mypy
    from bot.ports import ResourceProvider

    def _implements(provider: DemoProvider) -> ResourceProvider:
        return provider
