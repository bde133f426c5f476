"""Terraform plans as `terraform show -json plan.out` writes them, and the usage file beside them
(costbot-estimate.yml): what each created, changed or destroyed resource will run, before and after.

Priced resource types: aws_instance (and its root and EBS block devices), aws_ebs_volume,
aws_sagemaker_endpoint_configuration (its production variants), aws_sagemaker_notebook_instance,
aws_autoscaling_group (desired capacity × its launch template's or launch configuration's type) and
aws_eks_node_group. Other managed resources are listed as skipped: they have no usage cost model here.
"""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.domain.estimate import HOURS_PER_MONTH, ChangeAction, Plan, PlanError, PlannedResource, Usage

SUPPORTED_FORMAT = "1."  # plan JSON format_version 1.x (Terraform 0.12 onwards, OpenTofu)
MAX_PLAN_BYTES = 200 * 1024 * 1024
DEFAULT_VOLUME_TYPE = "gp2"  # what EC2 creates when a volume names no type


# -- the usage file -------------------------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResourceUsage(_Strict):
    hours_per_month: Decimal | None = Field(default=None, ge=0, le=744)
    count: int | None = Field(default=None, ge=0, le=100_000)


class TrainingJobUsage(_Strict):
    name: str = Field(min_length=1, max_length=63)
    instance_type: str = Field(min_length=3, max_length=64)
    count: int = Field(default=1, ge=1, le=10_000)
    max_hours: Decimal = Field(gt=0, le=24 * 28)  # SageMaker stops a training job after 28 days
    spot: bool = False
    runs_per_month: Decimal = Field(default=Decimal(0), ge=0, le=10_000)  # 0: one run, a one-off cost
    team: str | None = None


class UsageFile(_Strict):
    """costbot-estimate.yml: what a plan does not show."""

    region: str | None = None
    team: str | None = None  # for resources without a team tag
    hours_per_month: Decimal = Field(default=HOURS_PER_MONTH, ge=0, le=744)
    spot_discount_percent: Decimal = Field(default=Decimal(0), ge=0, lt=100)  # 0: spot costed at on-demand
    resources: dict[str, ResourceUsage] = Field(default_factory=dict)
    training_jobs: list[TrainingJobUsage] = Field(default_factory=list)


def read_usage(path: Path) -> UsageFile:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlanError(f"{path}: cannot read the usage file: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise PlanError(f"{path}: not valid YAML: {exc}") from None
    try:
        return UsageFile.model_validate(data or {})
    except ValidationError as err:
        problems = []
        for e in err.errors():
            where = ".".join(str(p) for p in e["loc"]) or "(top level)"
            msg = {"extra_forbidden": "unknown key", "missing": "required key is missing"}.get(e["type"], e["msg"])
            problems.append(f"{where}: {msg}")
        raise PlanError(f"{path}: " + "; ".join(problems)) from None


# -- the plan ---------------------------------------------------------------------------------------------------
def _actions(actions: list[str]) -> ChangeAction | None:
    if actions == ["create"]:
        return "create"
    if actions == ["delete"]:
        return "delete"
    if actions == ["update"]:
        return "update"
    if sorted(actions) == ["create", "delete"]:
        return "replace"
    return None  # no-op, read


def _tags(values: dict[str, Any] | None) -> dict[str, str]:
    if not values:
        return {}
    tags = values.get("tags_all") or values.get("tags") or {}
    out = {str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {}
    for block in values.get("tag") or ():  # aws_autoscaling_group's `tag` blocks
        if isinstance(block, dict) and "key" in block:
            out[str(block["key"])] = str(block.get("value", ""))
    return out


def _unknown(after_unknown: Any, *path: str | int) -> bool:
    node = after_unknown
    for step in path:
        if node is True:
            return True
        if isinstance(node, dict) and isinstance(step, str):
            node = node.get(step)
        elif isinstance(node, list) and isinstance(step, int) and step < len(node):
            node = node[step]
        else:
            return False
    return node is True


def _first(values: dict[str, Any], key: str) -> dict[str, Any]:
    block = values.get(key)
    if isinstance(block, list) and block and isinstance(block[0], dict):
        return block[0]
    return block if isinstance(block, dict) else {}


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


class _NotPriced(Exception):
    """A resource whose usage cannot be known from the plan (shown as an unpriced line)."""


class TerraformPlanReader:
    """PlanReader for `terraform show -json` output."""

    def read(self, plan: Path, usage: Path | None = None) -> Plan:
        usage_file = read_usage(usage) if usage is not None else UsageFile()
        data = self._load(plan)
        changes = data.get("resource_changes") or []
        if not isinstance(changes, list):
            raise PlanError(f"{plan}: `resource_changes` is not a list")
        index = _ResourceIndex(data)
        resources: list[PlannedResource] = []
        skipped: list[tuple[str, str]] = []
        hashed: list[dict[str, Any]] = []
        for rc in changes:
            if not isinstance(rc, dict) or rc.get("mode", "managed") != "managed":
                continue
            change = rc.get("change") or {}
            action = _actions(list(change.get("actions") or []))
            address, rtype = str(rc.get("address", "")), str(rc.get("type", ""))
            if action is None:
                continue
            hashed.append({"address": address, "actions": change.get("actions"), "before": change.get("before"),
                           "after": change.get("after")})
            model = _MODELS.get(rtype)
            if model is None:
                skipped.append((address, rtype))
                continue
            resources.append(self._resource(rc, action, model, index, usage_file))
        resources += [self._training_job(job, usage_file) for job in usage_file.training_jobs]
        canonical = json.dumps({"changes": sorted(hashed, key=lambda h: h["address"]),
                                "usage": usage_file.model_dump(mode="json")}, sort_keys=True, default=str)
        return Plan(digest=hashlib.sha256(canonical.encode()).hexdigest(), resources=tuple(resources),
                    skipped=tuple(skipped), region=usage_file.region or index.region, name=plan.name,
                    default_team=usage_file.team)

    @staticmethod
    def _load(plan: Path) -> dict[str, Any]:
        try:
            if plan.stat().st_size > MAX_PLAN_BYTES:
                raise PlanError(f"{plan}: larger than {MAX_PLAN_BYTES // (1024 * 1024)} MB")
            text = plan.read_text(encoding="utf-8")
        except OSError as exc:
            raise PlanError(f"{plan}: cannot read the plan: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise PlanError(f"{plan}: not a JSON plan (a binary plan file? run `terraform show -json plan.out "
                            "> plan.json`)") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PlanError(f"{plan}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
        if not isinstance(data, dict) or "format_version" not in data:
            raise PlanError(f"{plan}: not a Terraform plan (no format_version; write one with "
                            "`terraform show -json plan.out > plan.json`)")
        if not str(data["format_version"]).startswith(SUPPORTED_FORMAT):
            raise PlanError(f"{plan}: plan format_version {data['format_version']} is not supported (1.x)")
        if "resource_changes" not in data and "planned_values" not in data:
            raise PlanError(f"{plan}: a state, not a plan (no resource_changes): run `terraform show -json` on "
                            "the saved plan file")
        return data

    def _resource(self, rc: dict[str, Any], action: ChangeAction, model: Any, index: _ResourceIndex,
                  usage_file: UsageFile) -> PlannedResource:
        change = rc.get("change") or {}
        address, rtype = str(rc["address"]), str(rc["type"])
        before_values = change.get("before") if action in ("update", "delete", "replace") else None
        after_values = change.get("after") if action != "delete" else None
        overrides = _overrides(address, usage_file)
        unpriced = None
        try:
            before = tuple(model(before_values, {}, index, rc, usage_file, overrides)) if before_values else ()
            after = (tuple(model(after_values, change.get("after_unknown") or {}, index, rc, usage_file, overrides))
                     if after_values is not None else ())
        except _NotPriced as exc:
            before, after, unpriced = (), (), str(exc)
        return PlannedResource(address=address, type=rtype, action=action, before=before, after=after,
                               tags=_tags(after_values if after_values is not None else before_values),
                               unpriced=unpriced)

    @staticmethod
    def _training_job(job: TrainingJobUsage, usage_file: UsageFile) -> PlannedResource:
        instance_type = job.instance_type if job.instance_type.startswith("ml.") else f"ml.{job.instance_type}"
        discount = usage_file.spot_discount_percent if job.spot else Decimal(0)
        note = ("spot, " if job.spot else "") + (f"{job.runs_per_month.normalize():f} runs/month"
                                                 if job.runs_per_month else "one run")
        usage = Usage(kind="sagemaker_training", item=instance_type, count=Decimal(job.count),
                      hours=job.max_hours * job.runs_per_month,
                      one_off_hours=Decimal(0) if job.runs_per_month else job.max_hours,
                      spot_discount_percent=discount, note=note)
        return PlannedResource(address=f"training_job.{job.name}", type="sagemaker_training_job", action="create",
                               after=(usage,), team=job.team or usage_file.team)


def _overrides(address: str, usage_file: UsageFile) -> ResourceUsage:
    """The usage file's entry for an address: exact, without its index (`x.y` for `x.y[0]`), or a prefix
    ending in `*`."""
    bare = re.sub(r"\[[^\]]*\]$", "", address)
    for key in (address, bare):
        if key in usage_file.resources:
            return usage_file.resources[key]
    for key, value in usage_file.resources.items():
        if key.endswith("*") and address.startswith(key[:-1]):
            return value
    return ResourceUsage()


def _hours(usage_file: UsageFile, overrides: ResourceUsage) -> Decimal:
    return overrides.hours_per_month if overrides.hours_per_month is not None else usage_file.hours_per_month


def _instance_type(values: dict[str, Any], unknown: Any, key: str = "instance_type", *path: str | int) -> str:
    value = values.get(key)
    if not value:
        if _unknown(unknown, *path, key):
            raise _NotPriced("the instance type is known only after apply")
        raise _NotPriced("no instance type in the plan")
    return str(value)


# -- one function per resource type: values -> usages ------------------------------------------------------------
def _volume(values: dict[str, Any], size_key: str = "size", type_key: str = "type",
            note: str = "") -> Usage | None:
    size = _number(values.get(size_key))
    if size is None or size <= 0:
        return None
    return Usage(kind="ebs", item=str(values.get(type_key) or DEFAULT_VOLUME_TYPE), quantity=size, note=note)


def _ec2_instance(values: dict[str, Any], unknown: Any, index: _ResourceIndex, rc: dict[str, Any],
                  usage_file: UsageFile, overrides: ResourceUsage) -> list[Usage]:
    itype = _instance_type(values, unknown)
    count = Decimal(overrides.count if overrides.count is not None else 1)
    out = [Usage(kind="ec2", item=itype, count=count, hours=_hours(usage_file, overrides))]
    for block_key, note in (("root_block_device", "root volume"), ("ebs_block_device", "EBS block device")):
        blocks = values.get(block_key) or []
        for block in blocks if isinstance(blocks, list) else []:
            if isinstance(block, dict):
                volume = _volume(block, "volume_size", "volume_type", note)
                if volume is not None:
                    out.append(Usage(kind="ebs", item=volume.item, quantity=volume.quantity, count=count, note=note))
    return out


def _ebs_volume(values: dict[str, Any], unknown: Any, index: _ResourceIndex, rc: dict[str, Any],
                usage_file: UsageFile, overrides: ResourceUsage) -> list[Usage]:
    volume = _volume(values)
    if volume is None:
        raise _NotPriced("no size in the plan")
    return [volume]


def _endpoint_configuration(values: dict[str, Any], unknown: Any, index: _ResourceIndex, rc: dict[str, Any],
                            usage_file: UsageFile, overrides: ResourceUsage) -> list[Usage]:
    out = []
    for i, variant in enumerate(values.get("production_variants") or []):
        name = variant.get("variant_name") or f"variant {i + 1}"
        if variant.get("serverless_config"):
            raise _NotPriced(f"{name} is serverless (priced per request, not per hour)")
        itype = _instance_type(variant, unknown, "instance_type", "production_variants", i)
        count = _number(variant.get("initial_instance_count")) or Decimal(1)
        out.append(Usage(kind="sagemaker_hosting", item=itype, count=count, hours=_hours(usage_file, overrides),
                         note=f"variant {name}"))
    if not out:
        raise _NotPriced("no production variants in the plan")
    return out


def _notebook(values: dict[str, Any], unknown: Any, index: _ResourceIndex, rc: dict[str, Any],
              usage_file: UsageFile, overrides: ResourceUsage) -> list[Usage]:
    return [Usage(kind="sagemaker_notebook", item=_instance_type(values, unknown),
                  hours=_hours(usage_file, overrides))]


def _autoscaling_group(values: dict[str, Any], unknown: Any, index: _ResourceIndex, rc: dict[str, Any],
                       usage_file: UsageFile, overrides: ResourceUsage) -> list[Usage]:
    desired = _number(values.get("desired_capacity"))
    if desired is None:
        desired = _number(values.get("min_size"))
    if desired is None:
        raise _NotPriced("no desired capacity in the plan")
    if overrides.count is not None:
        desired = Decimal(overrides.count)
    if values.get("mixed_instances_policy"):
        raise _NotPriced("a mixed instances policy (several types) is not priced")
    itype = index.launch_type(rc, values)
    return [Usage(kind="ec2", item=itype, count=desired, hours=_hours(usage_file, overrides))]


def _eks_node_group(values: dict[str, Any], unknown: Any, index: _ResourceIndex, rc: dict[str, Any],
                    usage_file: UsageFile, overrides: ResourceUsage) -> list[Usage]:
    scaling = _first(values, "scaling_config")
    desired = _number(scaling.get("desired_size"))
    types = values.get("instance_types") or []
    if not types:
        raise _NotPriced("no instance type in the plan (the EKS default applies)")
    if desired is None:
        raise _NotPriced("no desired size in the plan")
    if overrides.count is not None:
        desired = Decimal(overrides.count)
    note = "capacity_type SPOT: at most on-demand" if values.get("capacity_type") == "SPOT" else ""
    return [Usage(kind="ec2", item=str(types[0]), count=desired, hours=_hours(usage_file, overrides), note=note)]


_MODELS: dict[str, Any] = {
    "aws_instance": _ec2_instance,
    "aws_ebs_volume": _ebs_volume,
    "aws_sagemaker_endpoint_configuration": _endpoint_configuration,
    "aws_sagemaker_notebook_instance": _notebook,
    "aws_autoscaling_group": _autoscaling_group,
    "aws_eks_node_group": _eks_node_group,
}
PRICED_TYPES = tuple(_MODELS)


class _ResourceIndex:
    """Everything the plan knows of its resources, to follow an autoscaling group to its launch template:
    the planned values and prior state by address, and the configuration's references."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.values: dict[str, dict[str, Any]] = {}
        for root in ((data.get("prior_state") or {}).get("values") or {}, data.get("planned_values") or {}):
            self._collect(root.get("root_module") or {})
        self.config: dict[str, dict[str, Any]] = {}
        configuration = data.get("configuration") or {}
        self._collect_config(configuration.get("root_module") or {}, "")
        aws = (configuration.get("provider_config") or {}).get("aws") or {}
        region = ((aws.get("expressions") or {}).get("region") or {}).get("constant_value")
        self.region = str(region) if region else None

    def _collect(self, module: dict[str, Any]) -> None:
        for r in module.get("resources") or ():
            if isinstance(r, dict) and r.get("address"):
                self.values[str(r["address"])] = r.get("values") or {}
        for child in module.get("child_modules") or ():
            self._collect(child)

    def _collect_config(self, module: dict[str, Any], prefix: str) -> None:
        for r in module.get("resources") or ():
            if isinstance(r, dict) and r.get("address"):
                self.config[prefix + str(r["address"])] = r
        for name, call in (module.get("module_calls") or {}).items():
            self._collect_config((call or {}).get("module") or {}, f"{prefix}module.{name}.")

    def _by_id(self, rtype: str, ident: str) -> dict[str, Any] | None:
        for address, values in self.values.items():
            parts = re.sub(r"\[[^\]]*\]$", "", address).split(".")
            if len(parts) >= 2 and parts[-2] == rtype and ident in (values.get("id"), values.get("name")):
                return values
        return None

    def _referenced(self, rc: dict[str, Any], block: str, rtype: str) -> dict[str, Any] | None:
        """The resource of type `rtype` the group's configuration refers to in `block` (`aws_launch_template.gpu`)."""
        address = str(rc.get("address", ""))
        module = address[: address.rfind(f"{rc.get('type')}.")] if f"{rc.get('type')}." in address else ""
        bare = re.sub(r"\[[^\]]*\]$", "", address)
        expressions = (self.config.get(bare) or {}).get("expressions") or {}
        node = expressions.get(block)
        nodes = node if isinstance(node, list) else [node]
        for n in nodes:
            refs: list[str] = []
            if isinstance(n, dict):
                for value in n.values():
                    if isinstance(value, dict):
                        refs += [str(x) for x in value.get("references") or ()]
                refs += [str(x) for x in n.get("references") or ()]
            for ref in refs:
                m = re.match(rf"^({re.escape(rtype)}\.[A-Za-z0-9_-]+)", ref)
                if m:
                    target = module + m.group(1)
                    for candidate in (target, target + "[0]"):
                        if candidate in self.values:
                            return self.values[candidate]
        return None

    def launch_type(self, rc: dict[str, Any], values: dict[str, Any]) -> str:
        template = self._referenced(rc, "launch_template", "aws_launch_template")
        if template is None:
            lt = _first(values, "launch_template")
            for key in ("id", "name"):
                if lt.get(key):
                    template = self._by_id("aws_launch_template", str(lt[key]))
                    if template is not None:
                        break
        if template is not None:
            if template.get("instance_type"):
                return str(template["instance_type"])
            raise _NotPriced("its launch template names no instance type")
        config = self._referenced(rc, "launch_configuration", "aws_launch_configuration")
        if config is None and values.get("launch_configuration"):
            config = self._by_id("aws_launch_configuration", str(values["launch_configuration"]))
        if config is not None and config.get("instance_type"):
            return str(config["instance_type"])
        raise _NotPriced("its launch template or launch configuration is not in the plan")
