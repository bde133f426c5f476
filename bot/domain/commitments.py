"""Contract commitments (FOCUS 1.3's Contract Commitment dataset): what is committed, until when, and how much
of it the bill has applied to charges so far (`ContractApplied`). Plain data for `/cost commitments`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

EXPIRING_DAYS = 60  # a commitment ending within this many days is flagged


@dataclass(frozen=True)
class Commitment:
    id: str
    kind: str  # ContractCommitmentType: Savings Plan, Reserved Instance, …
    category: str | None  # Spend | Usage
    description: str | None
    cost: Decimal  # ContractCommitmentCost: the whole term's commitment
    quantity: Decimal | None
    unit: str | None
    start: date
    end: date  # exclusive
    currency: str | None
    used: Decimal  # applied to charges so far (sum of ContractApplied's ContractCommitmentAppliedCost)
    used_quantity: Decimal = Decimal(0)  # … and ContractCommitmentAppliedQuantity (a usage commitment, in `unit`)

    @property
    def by_quantity(self) -> bool:
        """A usage commitment the bill applies by quantity (hours of a reservation), not by cost."""
        return self.quantity is not None and self.used_quantity > 0 and self.used == 0

    def _elapsed(self, day: date) -> Decimal:
        term = (self.end - self.start).days
        if term <= 0:
            return Decimal(1)
        return Decimal(min(max((day - self.start).days, 0), term)) / term

    def due_by(self, day: date) -> Decimal:
        """The part of the commitment that falls due from its start up to `day`, exclusive (spread evenly over
        the term): in cost, or in `unit` for a commitment applied by quantity."""
        total = self.quantity if self.by_quantity and self.quantity is not None else self.cost
        return total * self._elapsed(day)

    def used_share(self, day: date) -> Decimal | None:
        """Used against what has fallen due by `day`, in % (None before the term starts)."""
        due = self.due_by(day)
        used = self.used_quantity if self.by_quantity else self.used
        return used / due * 100 if due > 0 else None

    def days_left(self, day: date) -> int:
        return max((self.end - day).days, 0)

    def expiring(self, day: date) -> bool:
        return 0 < self.days_left(day) <= EXPIRING_DAYS


@dataclass(frozen=True)
class CommitmentReport:
    """`through`: the last day the billing data holds — what "used so far" is measured against (the part of each
    commitment due through that day)."""

    through: date | None
    commitments: tuple[Commitment, ...]

    @property
    def until(self) -> date | None:
        return self.through + timedelta(days=1) if self.through else None
