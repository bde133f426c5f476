"""Estimates without I/O: the plan reader on hand-made plan JSON (unknown types, modules, EKS, replacements,
serverless variants), pricing arithmetic, the policy's findings and the verdict with decisions."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.providers.aws.sizes import gpu_count
from bot.adapters.terraform import TerraformPlanReader
from bot.domain.estimate import (
    CostLine,
    Decision,
    Estimate,
    Finding,
    Headroom,
    Plan,
    PlanError,
    Policy,
    Usage,
    change_this_month,
    findings,
    usage_cost,
)


def _plan(tmp_path: Path, changes: list[dict[str, Any]], config: dict[str, Any] | None = None) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"format_version": "1.2", "terraform_version": "1.9.8", "resource_changes": changes,
                                "configuration": config or {}}))
    return path


def _rc(address: str, rtype: str, actions: list[str], before: Any, after: Any, unknown: Any = None) -> dict[str, Any]:
    return {"address": address, "mode": "managed", "type": rtype, "name": address.split(".")[-1],
            "change": {"actions": actions, "before": before, "after": after, "after_unknown": unknown or {}}}


def test_reader_marks_what_it_cannot_price(tmp_path: Path) -> None:
    path = _plan(tmp_path, [
        _rc("aws_instance.later", "aws_instance", ["create"], None, {"instance_type": None},
            {"instance_type": True}),
        _rc("aws_sagemaker_endpoint_configuration.sls", "aws_sagemaker_endpoint_configuration", ["create"], None,
            {"production_variants": [{"variant_name": "v1", "serverless_config": [{"memory_size_in_mb": 2048}]}]}),
        _rc("aws_autoscaling_group.mixed", "aws_autoscaling_group", ["create"], None,
            {"desired_capacity": 2, "mixed_instances_policy": [{"launch_template": []}]}),
        _rc("data.aws_ami.x", "aws_ami", ["read"], None, {}),
    ])
    plan = TerraformPlanReader().read(path)
    assert {r.address: r.unpriced for r in plan.resources} == {
        "aws_instance.later": "the instance type is known only after apply",
        "aws_sagemaker_endpoint_configuration.sls": "v1 is serverless (priced per request, not per hour)",
        "aws_autoscaling_group.mixed": "a mixed instances policy (several types) is not priced",
    }


def test_reader_follows_modules_and_reads_eks_and_replacements(tmp_path: Path) -> None:
    lt = {"instance_type": "g5.xlarge", "name": "workers"}
    config = {"root_module": {"module_calls": {"gpu": {"module": {"resources": [
        {"address": "aws_autoscaling_group.this", "type": "aws_autoscaling_group", "name": "this",
         "expressions": {"launch_template": [{"name": {"references": ["aws_launch_template.this.name",
                                                                      "aws_launch_template.this"]}}]}}]}}}}}
    path = _plan(tmp_path, [
        _rc("module.gpu.aws_launch_template.this", "aws_launch_template", ["create"], None, lt),
        _rc("module.gpu.aws_autoscaling_group.this", "aws_autoscaling_group", ["create"], None,
            {"desired_capacity": None, "min_size": 2, "launch_template": [{}]}),
        _rc("aws_eks_node_group.gpu", "aws_eks_node_group", ["create"], None,
            {"instance_types": ["p4d.24xlarge"], "scaling_config": [{"desired_size": 2}], "capacity_type": "SPOT"}),
        _rc("aws_instance.x", "aws_instance", ["delete", "create"], {"instance_type": "m5.large"},
            {"instance_type": "m5.xlarge"}),
    ], config)
    data = json.loads(path.read_text())
    data["planned_values"] = {"root_module": {"child_modules": [{"resources": [
        {"address": "module.gpu.aws_launch_template.this", "values": lt}]}]}}
    path.write_text(json.dumps(data))
    plan = TerraformPlanReader().read(path)
    by = {r.address: r for r in plan.resources}
    asg = by["module.gpu.aws_autoscaling_group.this"]
    assert asg.unpriced is None and [(u.item, u.count) for u in asg.after] == [("g5.xlarge", Decimal(2))]
    eks = by["aws_eks_node_group.gpu"]
    assert [(u.item, u.count, u.note) for u in eks.after] == [("p4d.24xlarge", Decimal(2),
                                                              "capacity_type SPOT: at most on-demand")]
    x = by["aws_instance.x"]
    assert x.action == "replace" and [u.item for u in x.before] == ["m5.large"] and [u.item for u in x.after] == [
        "m5.xlarge"]
    assert plan.skipped == (("module.gpu.aws_launch_template.this", "aws_launch_template"),)


def test_the_digest_is_the_change_not_the_run(tmp_path: Path) -> None:
    change = _rc("aws_instance.a", "aws_instance", ["create"], None, {"instance_type": "m5.large"})
    first = _plan(tmp_path, [change])
    data = json.loads(first.read_text())
    data["timestamp"], data["terraform_version"] = "2026-12-01T00:00:00Z", "1.10.0"
    (tmp_path / "again.json").write_text(json.dumps(data))
    digest = TerraformPlanReader().read(first).digest
    assert TerraformPlanReader().read(tmp_path / "again.json").digest == digest
    data["resource_changes"][0]["change"]["after"]["instance_type"] = "m5.xlarge"
    (tmp_path / "other.json").write_text(json.dumps(data))
    assert TerraformPlanReader().read(tmp_path / "other.json").digest != digest


def test_unsupported_format_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "v2.json").write_text(json.dumps({"format_version": "2.0", "resource_changes": []}))
    with pytest.raises(PlanError, match=r"format_version 2\.0 is not supported") as err:
        TerraformPlanReader().read(tmp_path / "v2.json")
    assert err.value.exit_code == 2


def test_pricing_arithmetic() -> None:
    assert usage_cost(Usage("ec2", "g5.xlarge", count=Decimal(2), hours=Decimal(100)), Decimal("1.006")) == (
        Decimal("201.200"), Decimal(0))
    assert usage_cost(Usage("ebs", "gp3", quantity=Decimal(500)), Decimal("0.08")) == (Decimal("40.00"), Decimal(0))
    job = Usage("sagemaker_training", "ml.p3.2xlarge", count=Decimal(2), hours=Decimal(0),
                one_off_hours=Decimal(10), spot_discount_percent=Decimal(70))
    assert usage_cost(job, Decimal("3.825")) == (Decimal(0), Decimal("22.9500"))  # 30% of 76.50
    assert change_this_month(Decimal(3000), Decimal(10), date(2026, 11, 28)) == Decimal(310)  # 3 of 30 days
    assert change_this_month(Decimal(3100), Decimal(0), date(2026, 12, 1)) == Decimal(3100)  # the whole month


def _estimate(found: tuple[Finding, ...], decisions: tuple[Decision, ...] = ()) -> Estimate:
    return Estimate(Plan("abc", ()), (), (), found, decisions=decisions)


def test_verdicts() -> None:
    need = (Finding("team-ml", "p5"), Finding("team-vision", "over budget"))
    assert _estimate(()).verdict == "pass"
    assert _estimate(need).verdict == "needs approval"
    assert _estimate(need, (Decision("team-ml", "approved"),)).verdict == "needs approval"  # both teams must
    assert _estimate(need, (Decision("team-ml", "approved"), Decision("team-vision", "approved"))).verdict == \
        "approved"
    assert _estimate(need, (Decision("team-ml", "approved"), Decision("team-vision", "rejected"))).verdict == \
        "rejected"
    assert _estimate(need, (Decision("team-ml", "expired"), Decision("team-vision", "approved"))).verdict == \
        "needs approval"
    forbidden = (Finding("team-ml", "p4de", approvable=False),)
    assert _estimate(forbidden, (Decision("team-ml", "approved"),)).verdict == "over policy"


def test_findings_look_at_added_capacity_and_the_budget() -> None:
    lines = (CostLine("a", "aws_instance", "create", "", "team-ml", monthly_after=Decimal(900), families=("p5",)),
             CostLine("b", "aws_instance", "delete", "", "team-data", monthly_before=Decimal(100)),
             CostLine("c", "aws_instance", "create", "", "team-ml", unpriced="no price for x9.mega in us-east-1"))
    heads = (Headroom("team-ml", Decimal(1000), Decimal(500), Decimal(950), Decimal(90)),
             Headroom("team-data", Decimal(100), Decimal(0), Decimal(200), Decimal(-10)))
    policy = Policy(max_monthly_increase=Decimal(700), approval_families=("p5",), fail_on_unpriced=True)
    assert [(f.team, f.reason) for f in findings(lines, heads, policy)] == [
        ("team-ml", "a uses the instance family p5, which needs an approval"),
        ("team-ml", "c could not be priced (no price for x9.mega in us-east-1)"),
        ("team-ml", "the change adds $800.00/month, over the $700.00 a change may add"),
        ("team-ml", "team-ml would be $40.00 over its budget this month"),
    ]  # team-data is over budget already, but the change lowers its cost: not the change's finding


def test_gpu_counts() -> None:
    assert (gpu_count("p4d.24xlarge"), gpu_count("ml.g5.12xlarge"), gpu_count("g5.xlarge"), gpu_count("m5.large"),
            gpu_count("p5en.48xlarge")) == (8, 4, 1, 0, None)
