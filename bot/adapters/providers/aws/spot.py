"""Spot for training, shared by the kinds that run it (SageMaker training jobs, EC2 instances doing batch
training): what spot typically saves per instance family, and which runs people have set aside.

Discounts are costbot's conservative assumption of what spot capacity saves against on-demand (AWS quotes "up to
90%"; what is paid depends on the Spot market of the day), recorded 2026-11: `SPOT_DISCOUNTS`, 60 % for a family
not listed. The same family has the same discount on EC2 (`p3.2xlarge`) and in SageMaker (`ml.p3.2xlarge`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal

from bot.domain.recommendations import SPOT_DISMISSED, SPOT_REMIND, SPOT_TAG

SPOT_DISCOUNTS: dict[str, Decimal] = {  # instance family -> share saved on spot (costbot's assumption)
    "p3": Decimal("0.70"), "p4d": Decimal("0.60"), "p5": Decimal("0.50"), "g4dn": Decimal("0.70"),
    "g5": Decimal("0.70"), "g6": Decimal("0.70"), "m5": Decimal("0.70"), "c5": Decimal("0.70"),
    "trn1": Decimal("0.60"),
}
DEFAULT_DISCOUNT = Decimal("0.60")
_RUN_SUFFIX = re.compile(r"(-\d+)+$")


def family_of(instance_type: str) -> str:
    """`ml.p3.2xlarge` and `p3.2xlarge` -> `p3`."""
    parts = instance_type.lower().split(".")
    return parts[1] if parts[0] == "ml" and len(parts) > 1 else parts[0]


def discount_for(instance_type: str) -> Decimal:
    return SPOT_DISCOUNTS.get(family_of(instance_type), DEFAULT_DISCOUNT)


def run_family(name: str) -> str:
    """What repeated runs share: the name without its trailing dates and numbers (`bert-ft-2026-11-20` ->
    `bert-ft`)."""
    return _RUN_SUFFIX.sub("", name.lower()) or name.lower()


def set_aside(tags: Mapping[str, str]) -> str | None:
    """`dismissed` or `remind-next-run` when people set this run aside (the `costbot:spot` tag), else None."""
    value = tags.get(SPOT_TAG)
    return value if value in (SPOT_DISMISSED, SPOT_REMIND) else None


def dismissed_families(runs: Iterable[tuple[str, Mapping[str, str]]]) -> set[str]:
    """The run families (see `run_family`) of the runs dismissed: their later runs are not offered either."""
    return {run_family(name) for name, tags in runs if set_aside(tags) == SPOT_DISMISSED}
