"""The cost-check and experiment use cases on the in-memory fakes: who may decide, expiry on the shared clock,
the guard's arithmetic, and each run's cost and GPU-hours written back."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from bot.domain.actions import ActionNotAllowed
from bot.domain.experiments import TrackedRun
from tests.fakes import FakeWorld, LineItem, build_world

P5 = Path(__file__).resolve().parents[1] / "fixtures" / "terraform" / "p5_cluster.json"
CONFIG = {
    "teams": {"team-ml": {"tags": {"team": "ml"}, "channel": "#team-ml", "approvers": ["U0APPROVE"],
                          "members": ["U0MEMBER1"], "budget": {"monthly": 10000}}},
    "admins": ["U0ADMIN01"],
    "estimate": {"prices": "bundled", "approval_families": ["p5"], "approval_days": 14},
}


def _world() -> FakeWorld:
    days = [date(2026, 10, 1) + timedelta(days=i) for i in range(58)]  # through Nov 27
    return build_world(CONFIG, [LineItem(d, Decimal(100), tags={"team": "ml"}) for d in days],
                       channel_ids={"#team-ml": "C0TEAMML1"})


def test_only_the_teams_approvers_decide_and_the_first_decision_wins() -> None:
    world = _world()
    estimates = world.use_cases.estimates
    result = estimates.estimate(P5)
    assert result.verdict == "needs approval"
    (asked,) = estimates.request_approval(result, "ci", "PR #7")
    channel, posted, approvers = world.estimate_notifier.approvals[0]
    assert (channel, posted.title, approvers) == ("C0TEAMML1", "PR #7", ("U0APPROVE", "U0ADMIN01"))
    assert asked.message_ts is not None and asked.monthly_delta == Decimal("71853.60")
    with pytest.raises(ActionNotAllowed, match="only team-ml's approvers"):
        estimates.decide(asked.id or 0, "U0MEMBER1", approve=True)
    decided = estimates.decide(asked.id or 0, "U0ADMIN01", approve=True)  # admins decide for any team
    assert decided.status == "approved" and world.estimate_notifier.approval_updates == [decided]
    with pytest.raises(ActionNotAllowed, match="already approved by <@U0ADMIN01>"):
        estimates.decide(asked.id or 0, "U0APPROVE", approve=False)
    assert estimates.estimate(P5).verdict == "approved"


def test_requests_and_approvals_expire() -> None:
    world = _world()
    estimates = world.use_cases.estimates
    (asked,) = estimates.request_approval(estimates.estimate(P5), "ci")
    world.clock.advance(days=14)
    with pytest.raises(ActionNotAllowed, match="expired"):
        estimates.decide(asked.id or 0, "U0APPROVE", approve=True)
    assert estimates.estimate(P5).verdict == "needs approval"
    (again,) = estimates.request_approval(estimates.estimate(P5), "ci")
    assert again.id == asked.id and len(world.estimate_notifier.approvals) == 2  # asked again, a new message
    estimates.decide(again.id or 0, "U0APPROVE", approve=True)
    world.clock.advance(days=14, seconds=1)
    assert estimates.estimate(P5).verdict == "needs approval"  # the approval ran out with its request


def test_guard_uses_budget_minus_forecast() -> None:
    world = _world()
    check = world.use_cases.estimates.guard("team-ml", Decimal("7000"), "python train.py")
    assert check.allowed and check.headroom.before == Decimal(7000)  # 10,000 - (2,700 + 3 days x 100)
    refused = world.use_cases.estimates.guard("team-ml", Decimal("7000.01"), "python train.py")
    assert not refused.allowed
    assert [(c, r.command) for c, r in world.estimate_notifier.refusals] == [("C0TEAMML1", "python train.py")]


def test_run_costs_from_run_tags_and_training_jobs() -> None:
    job = "arn:aws:sagemaker:us-east-1:111122223333:training-job/ft-7"
    world = build_world({"teams": {"team-ml": {"tags": {"team": "ml"}}},
                         "experiments": {"run_tags": ["mlflow_run_id", "run"]}}, [
        LineItem(date(2026, 11, 20), Decimal("10"), tags={"mlflow_run_id": "RUN1"}, hours=Decimal(2),
                 usage_type="BoxUsage:p4d.24xlarge"),
        LineItem(date(2026, 11, 20), Decimal("5"), tags={"run": "run1"}, hours=Decimal(1),
                 usage_type="BoxUsage:m5.large"),  # the second run tag, another spelling of the id
        LineItem(date(2026, 11, 20), Decimal("7"), tags={"mlflow_run_id": "run1", "run": "run1"}),  # counted once
        LineItem(date(2026, 11, 21), Decimal("30"), service="Amazon SageMaker", resource_id=job, hours=Decimal(3),
                 usage_type="USE1-Train:ml.g5.12xlarge"),
        LineItem(date(2026, 11, 21), Decimal("99"), service="Amazon SageMaker", resource_id=job,
                 tags={"mlflow_run_id": "other"}),  # tagged with another run: not this run's
    ])
    world.tracker.tracked = [
        TrackedRun("run1", "exp", "a", epochs=Decimal(4), started=datetime(2026, 11, 19, tzinfo=UTC)),
        TrackedRun("run2", "exp", "b", training_job="ft-7", started=datetime(2026, 11, 19, tzinfo=UTC)),
        TrackedRun("run3", "exp", "c", started=datetime(2026, 11, 19, tzinfo=UTC)),
    ]
    report = world.use_cases.experiments.sync()
    costs = {r.run.run_id: (r.cost, r.gpu_hours, r.matched_by) for r in report.runs}
    assert costs["run1"] == (Decimal(22), Decimal(16), ("tag mlflow_run_id", "tag run"))  # 2 h x 8 GPUs
    assert costs["run2"] == (Decimal(30), Decimal(12), ("training job ft-7",))  # 3 h x 4 GPUs
    assert costs["run3"] == (Decimal(0), Decimal(0), ())
    assert report.written == 2 and set(world.tracker.recorded) == {"run1", "run2"}
    metrics, tags = world.tracker.recorded["run1"]
    assert metrics == {"cost_usd": 22.0, "gpu_hours": 16.0, "cost_usd_per_epoch": 5.5}
    assert tags == {"costbot.cost_usd": "22.00", "costbot.matched_by": "tag mlflow_run_id, tag run",
                    "costbot.billing_through": "2026-11-21"}
