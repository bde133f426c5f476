"""Cloud resources as the scans and actions see them. Pure data; providers fill it in — including what a resource
can do and how it is judged, so that rules and services never ask which cloud or which kind it is."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

HOURS_PER_MONTH = Decimal(730)

Capability = Literal["stop", "start", "resize", "schedule", "delete", "restore"]
CAPABILITIES: tuple[Capability, ...] = ("stop", "start", "resize", "schedule", "delete", "restore")

# What Stop does: the resource powers off (and Start brings it back), or it keeps serving on fewer instances
# (scaled to its minimum; Start scales it back up) — so "start" on a running resource is meaningful only then.
StopMeans = Literal["power_off", "scale_to_minimum"]
POWER_OFF: StopMeans = "power_off"
SCALE_TO_MINIMUM: StopMeans = "scale_to_minimum"

# How idleness is judged: CPU / GPU / network utilization, requests served (model endpoints), or what the
# resource is (storage: its tier and whether anything uses it), which needs no metrics at all.
IdleSignal = Literal["utilization", "invocations", "inventory"]
UTILIZATION: IdleSignal = "utilization"
INVOCATIONS: IdleSignal = "invocations"
INVENTORY: IdleSignal = "inventory"


@dataclass(frozen=True)
class ResourceRef:
    """Identifies one resource across providers, accounts and regions; also the value of its buttons."""

    provider: str  # the provider's configured name (`providers[].name`, by default its kind)
    account: str
    region: str
    kind: str  # the provider's resource kind (its own word: ec2, notebook, endpoint, …)
    id: str

    @property
    def key(self) -> str:
        return "|".join((self.provider, self.account, self.region, self.kind, self.id))

    @classmethod
    def parse(cls, key: str) -> ResourceRef:
        parts = key.split("|")
        if len(parts) != 5 or not all(parts[:4]):
            raise ValueError(f"not a resource reference: {key!r}")
        return cls(*parts)


@dataclass(frozen=True)
class ResizeOption:
    """A smaller size the provider offers for a resource, with its own estimate of the monthly saving."""

    target_type: str
    monthly_savings: Decimal | None = None
    # the target's price as a share of the current one (storage tiers): with the resource's own billing lines
    # the saving is that cost × (1 − ratio), which beats a list-price estimate
    price_ratio: Decimal | None = None


@dataclass(frozen=True)
class Resource:
    ref: ResourceRef
    name: str
    type: str  # instance type, as the provider names it
    state: str  # the provider's own word for its state, shown to people
    tags: dict[str, str] = field(default_factory=dict)
    hourly_price: Decimal | None = None  # on-demand, per instance
    count: int = 1  # instances behind it (endpoints)
    launched_at: datetime | None = None
    running: bool = False  # up and billed as running
    stopped: bool = False  # a Stop has taken effect or is under way (powered off, or down to its minimum)
    capabilities: frozenset[Capability] = frozenset()
    stop_means: StopMeans = POWER_OFF
    idle_signal: IdleSignal = UTILIZATION
    gpu_expected: bool = False  # an accelerated type whose GPU metric is looked for
    stop_savings: Decimal | None = None  # a month of what Stop saves, by the provider's estimate
    size_gib: int | None = None  # storage: the provisioned size (volumes), what Standard holds (buckets)
    reads_per_day: float | None = None  # storage: GET requests a day, where the cloud measures them
    # delete (storage kept as a snapshot): a month of what it saves at list price, and what is still paid for
    # the snapshot as a share of the resource's price (so a saving from the bill is cost × (1 − ratio))
    delete_savings: Decimal | None = None
    delete_price_ratio: Decimal | None = None
    is_copy: bool = False  # a backup of something gone (a snapshot): kept for a retention, its delete is final
    # a training run on on-demand capacity that spot would have made cheaper (SageMaker training jobs, EC2
    # instances doing batch training): the share spot saves, what it would have saved at list price, and the
    # advice in the provider's own words (what to change on the next run); None when it runs on spot or was set aside
    spot_discount: Decimal | None = None
    spot_savings: Decimal | None = None
    spot_reason: str | None = None
    # when a request last changed its power state, where the provider says (EC2's StateTransitionReason): a
    # schedule leaves off what someone started or stopped outside costbot after its own stop
    state_changed_at: datetime | None = None

    def supports(self, action: str) -> bool:
        return action in self.capabilities

    @property
    def startable(self) -> bool:
        """Start changes something: it is not running, or Stop only scaled it down."""
        return not self.running or self.stop_means == SCALE_TO_MINIMUM


@dataclass(frozen=True)
class Utilization:
    """Hourly metrics: maxima over the recent (idle) window, p95 over the whole (rightsizing) window.
    None where the metric is not published."""

    hours: int  # hours with data in the recent window
    cpu_max: float | None = None
    gpu_max: float | None = None
    network_max: float | None = None  # bytes in+out in the busiest recent hour
    invocations: float | None = None  # endpoints: sum over the recent window
    days: float = 0.0  # days with data in the whole window
    cpu_p95: float | None = None
    gpu_p95: float | None = None
