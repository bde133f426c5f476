"""Experiments and training runs: what each cost on the bill, found through its tags (an experiment tag, a run
id tag) or through the SageMaker training job a tracked run recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from bot.domain.money import ZERO


@dataclass(frozen=True)
class TrackedRun:
    """A run as an experiment tracker (MLflow) knows it."""

    run_id: str
    experiment: str
    name: str = ""
    training_job: str | None = None  # a SageMaker training job name or ARN recorded on the run
    epochs: Decimal | None = None
    started: datetime | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunCost:
    """A run's cost from the bill, its GPU-hours, and how its billing lines were found."""

    run: TrackedRun
    cost: Decimal = ZERO
    gpu_hours: Decimal = ZERO
    matched_by: tuple[str, ...] = ()  # "tag mlflow_run_id", "training job NAME"

    @property
    def found(self) -> bool:
        return bool(self.matched_by)

    @property
    def cost_per_epoch(self) -> Decimal | None:
        return self.cost / self.run.epochs if self.run.epochs else None


def training_job_name(value: str) -> str:
    """`arn:aws:sagemaker:us-east-1:123:training-job/bert-ft-01` -> `bert-ft-01`; a plain name stays itself."""
    return value.rsplit("training-job/", 1)[-1].strip()


@dataclass(frozen=True)
class SyncReport:
    runs: tuple[RunCost, ...]
    written: int
    currency: str = "USD"
    data_through: str | None = None
