"""Cloud resources as the scans and actions see them. Pure data; providers fill it in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

HOURS_PER_MONTH = Decimal(730)


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
    """Metrics over the look-back window; None where the metric is not published."""

    hours: int  # hours of data seen
    cpu_max: float | None = None
    cpu_p95: float | None = None
    gpu_max: float | None = None
    gpu_p95: float | None = None
    network_max: float | None = None  # bytes in+out per hour, the busiest hour
    invocations: float | None = None  # endpoints: sum over the window
