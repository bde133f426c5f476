"""The cost of every training run, from the bill: billing lines tagged with a run id (the configured run tags),
or the SageMaker training job a run recorded, summed per run with their GPU-hours — and written back onto the
run in the experiment tracker (`costbot mlflow sync`)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from bot.config import CostbotConfig
from bot.domain.experiments import RunCost, SyncReport, TrackedRun, training_job_name
from bot.domain.money import ZERO, to_cents
from bot.domain.spec import KEY_SEPARATOR, NONE_KEY, UNTAGGED, ColumnIn, Condition, CostSpec, Grouping, TagMissing
from bot.ports import CostQueries, ExperimentTracker

log = logging.getLogger("costbot.experiments")


def instance_type_of(usage_type: str) -> str:
    """`USE1-Train:ml.p3.2xlarge` -> `ml.p3.2xlarge`, `BoxUsage:g5.xlarge` -> `g5.xlarge`."""
    return usage_type.rsplit(":", 1)[-1]


class ExperimentService:
    def __init__(self, queries: CostQueries, config: CostbotConfig, tracker: Callable[[], ExperimentTracker],
                 gpus: Callable[[str], int | None], today: Callable[[], date]) -> None:
        """`tracker` is called when a sync needs it (the MLflow client is an optional install)."""
        self.queries = queries
        self.config = config
        self.tracker = tracker
        self.gpus = gpus
        self.today = today

    def _spec(self, start: date, end: date, conditions: tuple[Condition, ...] = ()) -> CostSpec:
        return CostSpec(self.config.metric, start, end, conditions, self.config.grammar.team_tag_key)

    def _gpu_hours(self, rows: list[tuple[str, Decimal]]) -> dict[str, Decimal]:
        """(key<US>usage type, hours) rows -> GPU-hours per key."""
        out: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for key, hours in rows:
            first, _, usage_type = key.partition(KEY_SEPARATOR)
            gpus = self.gpus(instance_type_of(usage_type)) if usage_type and usage_type != NONE_KEY else 0
            out[first.lower()] += hours * (gpus or 0)
        return out

    def run_costs(self, runs: list[TrackedRun], start: date, end: date) -> list[RunCost]:
        """Each run's cost over [start, end): lines carrying its id in a run tag (the first such tag counts a line
        once), plus lines of the SageMaker training job it recorded that carry no run tag."""
        cost: dict[str, Decimal] = defaultdict(lambda: ZERO)
        gpu: dict[str, Decimal] = defaultdict(lambda: ZERO)
        matched: dict[str, list[str]] = defaultdict(list)
        earlier: list[Condition] = []
        for key in self.config.experiments.run_tags:
            spec = self._spec(start, end, tuple(earlier))
            for value, amount in self.queries.groups(spec, Grouping("tag", key)):
                if value != UNTAGGED:
                    cost[value.lower()] += amount
                    matched[value.lower()].append(f"tag {key}")
            usage = Grouping("tag", key, then=Grouping("column", "x_UsageType"))
            for value, hours in self._gpu_hours(self.queries.quantities(spec, usage)).items():
                gpu[value] += hours
            earlier.append(TagMissing(key))
        jobs = {training_job_name(r.training_job).lower(): r for r in runs if r.training_job}
        job_cost: dict[str, Decimal] = defaultdict(lambda: ZERO)
        job_gpu: dict[str, Decimal] = defaultdict(lambda: ZERO)
        if jobs:
            services = tuple(s for s in self.queries.distinct_values("ServiceName") if "sagemaker" in s.lower())
            spec = self._spec(start, end, (*earlier, ColumnIn("ServiceName", services)))
            for resource, amount in self.queries.groups(spec, Grouping("column", "ResourceId")):
                name = training_job_name(resource).lower()
                if "training-job/" in resource.lower() and name in jobs:
                    job_cost[name] += amount
            rows = self.queries.quantities(spec, Grouping("column", "ResourceId",
                                                          then=Grouping("column", "x_UsageType")))
            for resource, hours in self._gpu_hours(rows).items():
                if "training-job/" in resource:
                    job_gpu[training_job_name(resource)] += hours
        out = []
        for run in runs:
            rid = run.run_id.lower()
            total, hours, how = cost.get(rid, ZERO), gpu.get(rid, ZERO), list(dict.fromkeys(matched.get(rid, [])))
            if run.training_job:
                name = training_job_name(run.training_job).lower()
                if name in job_cost:
                    total += job_cost[name]
                    hours += job_gpu.get(name, ZERO)
                    how.append(f"training job {training_job_name(run.training_job)}")
            out.append(RunCost(run=run, cost=total, gpu_hours=hours, matched_by=tuple(how)))
        return out

    def sync(self, dry_run: bool = False) -> SyncReport:
        """Cost each recent run from the bill and write it back: metrics `cost_<currency>`, `gpu_hours` and
        `cost_<currency>_per_epoch` (when the run logs epochs), tags `costbot.*` saying how it was found."""
        settings = self.config.experiments.mlflow
        tracker = self.tracker()
        today = self.today()
        start = today - timedelta(days=settings.lookback_days)
        runs = tracker.runs(settings.experiments, datetime.combine(start, time.min, tzinfo=UTC))
        costs = self.run_costs(runs, start, today + timedelta(days=1))
        through = self.queries.freshness()
        metric = f"cost_{self.config.currency.lower()}"
        written = 0
        for rc in costs:
            if not rc.found:
                continue
            metrics = {metric: float(to_cents(rc.cost)), "gpu_hours": float(rc.gpu_hours.quantize(Decimal("0.01")))}
            if rc.cost_per_epoch is not None:
                metrics[f"{metric}_per_epoch"] = float(to_cents(rc.cost_per_epoch))
            tags = {f"costbot.{metric}": f"{to_cents(rc.cost)}", "costbot.matched_by": ", ".join(rc.matched_by),
                    "costbot.billing_through": through.isoformat() if through else ""}
            if not dry_run:
                tracker.record(rc.run.run_id, metrics, tags)
            written += 1
        return SyncReport(runs=tuple(costs), written=written, currency=self.config.currency,
                          data_through=through.isoformat() if through else None)

