"""Cloud resources as the scans and actions see them. Pure data; providers fill it in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

HOURS_PER_MONTH = Decimal(730)
GPU_FAMILIES = ("p2", "p3", "p4", "p5", "g3", "g4", "g5", "g6", "trn", "inf", "dl")


def is_gpu_type(instance_type: str) -> bool:
    """GPU and accelerator families (p*, g*, trn*, inf*), EC2 or SageMaker (`ml.`) names."""
    return instance_type.removeprefix("ml.").split(".")[0].startswith(GPU_FAMILIES)


@dataclass(frozen=True)
class ResourceRef:
    """Identifies one resource across providers, accounts and regions; also the value of its buttons."""

    provider: str  # "aws"
    account: str
    region: str
    kind: str  # ec2 | notebook | endpoint
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
class Resource:
    ref: ResourceRef
    name: str
    type: str  # instance type (ml.* for SageMaker)
    state: str  # running | stopped | InService | … as the provider says
    tags: dict[str, str] = field(default_factory=dict)
    hourly_price: Decimal | None = None  # on-demand, per instance
    count: int = 1  # instances behind it (endpoints)
    launched_at: datetime | None = None

    @property
    def running(self) -> bool:
        return self.state.lower() in ("running", "inservice")

    @property
    def monthly_cost(self) -> Decimal | None:
        return self.hourly_price * self.count * HOURS_PER_MONTH if self.hourly_price is not None else None


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
