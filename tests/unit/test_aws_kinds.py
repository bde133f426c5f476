"""The AWS kind registry: what each kind declares (capabilities, what stop means, idle signal, permissions,
metrics), its savings estimates, billing ARNs, and the README's IAM policies derived from the declarations.
Nothing here reaches AWS: accounts are listed, so no call is needed to know where the provider acts."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from bot.adapters.providers.aws import KINDS, Account, AwsProvider, iam_policies, permissions
from bot.adapters.providers.aws.sizes import is_gpu_type, smaller_type
from bot.domain.actions import ActionNotAllowed
from bot.domain.resources import (
    INVENTORY,
    INVOCATIONS,
    POWER_OFF,
    SCALE_TO_MINIMUM,
    UTILIZATION,
    ResizeOption,
    ResourceRef,
)

A, B = "123456789012", "111111111111"
README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
def provider() -> AwsProvider:
    return AwsProvider(["us-east-1", "eu-west-1"], [Account(A), Account(B, f"arn:aws:iam::{B}:role/costbot",
                                                                        ("eu-west-1",))],
                       name="aws-org", endpoint_min_instances=1)


def test_each_kind_declares_what_it_can_do_and_how_it_is_judged(provider: AwsProvider) -> None:
    declared = {name: (sorted(k.capabilities), k.stop_means, k.idle_signal) for name, k in provider.kinds.items()}
    assert declared == {
        "ec2": (["resize", "schedule", "start", "stop"], POWER_OFF, UTILIZATION),
        "notebook": (["schedule", "start", "stop"], POWER_OFF, UTILIZATION),
        "endpoint": (["resize", "start", "stop"], SCALE_TO_MINIMUM, INVOCATIONS),
        "volume": (["delete", "resize", "restore"], POWER_OFF, INVENTORY),
        "snapshot": (["delete"], POWER_OFF, INVENTORY),
        "bucket": (["resize"], POWER_OFF, INVENTORY),
        "training": ([], POWER_OFF, INVENTORY),
    }
    assert [k.name for k in KINDS] == ["ec2", "notebook", "endpoint", "volume", "snapshot", "bucket", "training"]


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_every_capability_and_operation_has_its_permissions(kind: type) -> None:
    perms = kind.permissions  # type: ignore[attr-defined]
    for op in ("list", "utilization", "tag", *(c for c in kind.capabilities if c in ("stop", "start", "resize"))):  # type: ignore[attr-defined]
        assert perms.get(op), f"{kind.name} declares no permissions for {op}"  # type: ignore[attr-defined]
    assert all(re.fullmatch(r"[a-z0-9]+:[A-Za-z]+", a) for actions in perms.values() for a in actions)


def test_the_providers_permissions_are_the_union_of_its_kinds() -> None:
    perms = permissions()
    assert perms == AwsProvider.PERMISSIONS
    assert perms["stop"] == ("ec2:StopInstances", "sagemaker:StopNotebookInstance",
                             "sagemaker:UpdateEndpointWeightsAndCapacities")
    assert perms["list"][-1] == "sts:GetCallerIdentity" and perms["accounts"] == ("sts:AssumeRole",)
    for kind in KINDS:
        for op, actions in kind.permissions.items():
            assert set(actions) <= set(perms[op])


def _readme_policies() -> list[set[str]]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### IAM permissions"):text.index("\n## ", text.index("### IAM permissions"))]
    blocks = re.findall(r"```json\n(.*?)```", section, re.S)
    return [set(json.loads(b)["Statement"][0]["Action"]) for b in blocks]


def test_readme_iam_policies_are_exactly_what_the_kinds_declare() -> None:
    scan, act = _readme_policies()
    policies = iam_policies()
    assert scan == set(policies["scan"])
    assert act == set(policies["act"])
    assert "`sts:AssumeRole`" in README.read_text(encoding="utf-8")


def test_savings_are_each_kinds_own_estimate(provider: AwsProvider) -> None:
    ec2, endpoint = provider.kinds["ec2"], provider.kinds["endpoint"]
    box = ec2.resource(A, "us-east-1", "i-1", name="box", type="g5.xlarge", state="running", tags={})
    assert box.hourly_price == Decimal("1.006") and box.stop_savings == Decimal("1.006") * 730
    assert box.running and not box.stopped and box.gpu_expected
    # an endpoint keeps its minimum: Stop saves the instances above it
    ep = endpoint.resource(A, "us-east-1", "ep", name="ep", type="ml.g4dn.2xlarge", state="InService", tags={},
                           count=3)
    assert ep.stop_savings == ep.hourly_price * 2 * 730 and ep.running and not ep.stopped  # type: ignore[operator]
    at_minimum = endpoint.resource(A, "us-east-1", "ep", name="ep", type="ml.g4dn.2xlarge", state="InService",
                                   tags={}, count=1)
    assert at_minimum.stopped and at_minimum.stop_savings == 0 and not at_minimum.gpu_expected
    unknown = ec2.resource(A, "us-east-1", "i-2", name="x", type="z9.weird", state="stopped", tags={})
    assert unknown.stop_savings is None and unknown.stopped and not unknown.running


def test_resize_offers_the_next_known_size_and_saves_the_difference(provider: AwsProvider) -> None:
    ec2, notebook = provider.kinds["ec2"], provider.kinds["notebook"]
    big = ec2.resource(A, "us-east-1", "i-1", name="etl", type="m5.4xlarge", state="running", tags={})
    assert provider.resize_option(big) == ResizeOption("m5.2xlarge", (Decimal("0.768") - Decimal("0.384")) * 730)
    smallest = ec2.resource(A, "us-east-1", "i-2", name="tiny", type="t3.nano", state="running", tags={})
    assert provider.resize_option(smallest) is None
    nb = notebook.resource(A, "us-east-1", "nb", name="nb", type="ml.t3.xlarge", state="InService", tags={})
    assert provider.resize_option(nb) is None and not nb.supports("resize")


def test_sizes() -> None:
    assert smaller_type("g5.12xlarge") == "g5.8xlarge"
    assert smaller_type("ml.g5.2xlarge") == "ml.g5.xlarge"
    assert smaller_type("t3.nano") is None
    assert smaller_type("weird") is None
    assert is_gpu_type("ml.g5.xlarge") and is_gpu_type("p4d.24xlarge") and not is_gpu_type("m5.large")


def test_metrics_first_pass_then_detail_for_the_kinds_that_have_it(provider: AwsProvider) -> None:
    ec2, endpoint = provider.kinds["ec2"], provider.kinds["endpoint"]
    gpu = ec2.resource(A, "us-east-1", "i-1", name="g", type="g5.xlarge", state="running", tags={})
    cpu_only = ec2.resource(A, "us-east-1", "i-2", name="m", type="m5.large", state="running", tags={})
    assert [(f, m["MetricName"], s) for f, m, s in ec2.metric_queries(gpu, detail=False)] == [
        ("cpu", "CPUUtilization", "Maximum")]
    assert [(f, m["Namespace"], m["MetricName"]) for f, m, _ in ec2.metric_queries(gpu, detail=True)] == [
        ("net_in", "AWS/EC2", "NetworkIn"), ("net_out", "AWS/EC2", "NetworkOut"),
        ("gpu", "CWAgent", "nvidia_smi_utilization_gpu")]
    assert [f for f, _, _ in ec2.metric_queries(cpu_only, detail=True)] == ["net_in", "net_out"]
    ep = endpoint.resource(A, "us-east-1", "ep", name="ep", type="ml.g4dn.2xlarge", state="InService",
                           tags={"costbot:variant": "blue"}, count=2)
    assert endpoint.metric_queries(ep, detail=False) == [("invocations", {
        "Namespace": "AWS/SageMaker", "MetricName": "Invocations",
        "Dimensions": [{"Name": "EndpointName", "Value": "ep"}, {"Name": "VariantName", "Value": "blue"}]}, "Sum")]
    assert endpoint.metric_queries(ep, detail=True) == []


@pytest.mark.parametrize("arn, key", [
    (f"arn:aws:ec2:us-east-1:{A}:instance/i-0abc", f"aws-org|{A}|us-east-1|ec2|i-0abc"),
    (f"arn:aws:ec2:eu-west-1:{B}:instance/i-0def", f"aws-org|{B}|eu-west-1|ec2|i-0def"),
    (f"arn:aws:sagemaker:eu-west-1:{B}:notebook-instance/nb-research", f"aws-org|{B}|eu-west-1|notebook|nb-research"),
    (f"arn:aws:sagemaker:us-east-1:{A}:endpoint/ranker-ep", f"aws-org|{A}|us-east-1|endpoint|ranker-ep"),
    (f"arn:aws:ec2:us-east-1:{B}:instance/i-0abc", None),  # account B is configured in eu-west-1 only
    ("arn:aws:ec2:us-east-1:999999999999:instance/i-0abc", None),  # not a configured account
    (f"arn:aws:ec2:us-east-1:{A}:volume/vol-1", None),  # a kind that cannot stop: no Stop from an anomaly
    (f"arn:aws:rds:us-east-1:{A}:db/main", None),
    (f"arn:aws:sagemaker:us-east-1:{A}:endpoint-config/ranker-cfg", None),
    ("i-0abc", None),
    ("", None),
])
def test_billing_arns_map_to_resource_keys_only_where_the_provider_acts(provider: AwsProvider, arn: str,
                                                                         key: str | None) -> None:
    assert provider.resource_key(arn) == key
    if key is not None:
        provider.check_ref(ResourceRef.parse(key))  # a mapped key is one the provider accepts


@pytest.mark.parametrize("ref, why", [
    (ResourceRef("aws", A, "us-east-1", "ec2", "i-1"), "'ec2' resources of 'aws' are not something"),
    (ResourceRef("aws-org", A, "us-east-1", "db", "b-1"), "'db' resources of 'aws-org' are not something"),
    (ResourceRef("aws-org", "999999999999", "us-east-1", "ec2", "i-1"), "account 999999999999 is not configured"),
    (ResourceRef("aws-org", B, "us-east-1", "ec2", "i-1"), f"region us-east-1 is not configured for costbot's "
                                                           f"actions in account {B}"),
])
def test_check_ref_refuses_other_providers_kinds_accounts_and_regions(provider: AwsProvider, ref: ResourceRef,
                                                                      why: str) -> None:
    with pytest.raises(ActionNotAllowed, match=re.escape(why)):
        provider.check_ref(ref)
    assert provider.requests() == {}  # refused before any AWS request


@pytest.mark.parametrize(("size", "iops", "mibps", "gp2", "gp3"), [
    (100, 3000, 128, "10.00", "8.12"),  # 300 IOPS -> gp3's 3,000; 128 MiB/s is 3 above gp3's 125
    (500, 3000, 250, "50.00", "45.00"),  # from 334 GiB gp2 gives 250 MiB/s: 125 more at $0.040
    (2000, 6000, 250, "200.00", "180.00"),  # 3 IOPS per GiB: 3,000 above the included at $0.005
    (8000, 16000, 250, "800.00", "710.00"),  # gp2's IOPS stop at 16,000
])
def test_gp3_keeps_gp2s_baseline_and_prices_what_it_provisions(provider: AwsProvider, size: int, iops: int,
                                                                mibps: int, gp2: str, gp3: str) -> None:
    from bot.adapters.providers.aws.ebs_volume import gp3_settings, monthly_list_price

    assert gp3_settings(size) == (iops, mibps)
    assert (monthly_list_price("gp2", size), monthly_list_price("gp3", size)) == (Decimal(gp2), Decimal(gp3))
    vol = provider.kinds["volume"].resource(A, "us-east-1", "vol-1", name="data", type="gp2", state="in-use",
                                            tags={}, size_gib=size, hourly_price=Decimal(gp2) / 730)
    option = provider.resize_option(vol)
    assert option == ResizeOption("gp3", Decimal(gp2) - Decimal(gp3), Decimal(gp3) / Decimal(gp2))
    assert vol.stop_savings is None and not vol.running and vol.supports("resize") and not vol.supports("stop")


@pytest.mark.parametrize(("vtype", "size"), [("gp2", 20), ("gp2", 8), ("gp3", 500), ("io1", 500), ("gp2", 0)])
def test_no_tier_change_is_offered_below_a_dollar_a_month_or_off_gp2(provider: AwsProvider, vtype: str,
                                                                     size: int) -> None:
    vol = provider.kinds["volume"].resource(A, "us-east-1", "vol-1", name="data", type=vtype, state="available",
                                            tags={}, size_gib=size)
    assert provider.resize_option(vol) is None


@pytest.mark.parametrize(("gib", "reads", "offered"), [
    (2048, None, True),  # no request metrics: judged on size
    (2048, 204.8, True),  # 0.1 GET a day per GiB: still rarely read
    (2048, 205.0, False),
    (96, None, True),  # $1.008 a month
    (95, None, False),  # under a dollar
    (0, None, False),
])
def test_a_bucket_is_offered_intelligent_tiering_when_large_and_rarely_read(provider: AwsProvider, gib: int,
                                                                            reads: float | None,
                                                                            offered: bool) -> None:
    bucket = provider.kinds["bucket"].resource(A, "us-east-1", "b", name="b", type="STANDARD", state="available",
                                               tags={}, size_gib=gib, reads_per_day=reads)
    option = provider.resize_option(bucket)
    if not offered:
        assert option is None
        return
    assert option == ResizeOption("INTELLIGENT_TIERING", (Decimal("0.023") - Decimal("0.0125")) * gib,
                                  Decimal("0.0125") / Decimal("0.023"))


def test_a_buckets_tier_is_what_its_enabled_rules_do_to_current_versions() -> None:
    from bot.adapters.providers.aws.s3_bucket import tier_of

    to = [{"Status": "Enabled", "Transitions": [{"Days": 0, "StorageClass": "INTELLIGENT_TIERING"}]}]
    assert tier_of([]) == "STANDARD"
    assert tier_of([{"Status": "Enabled", "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}]) == "STANDARD"
    assert tier_of(to) == "INTELLIGENT_TIERING"
    assert tier_of([{**to[0], "Status": "Disabled"}]) == "STANDARD"
    assert tier_of([{"Status": "Enabled", "Transitions": [{"Days": 90, "StorageClass": "GLACIER"}]}]) == "LIFECYCLE"


def test_a_provider_scans_only_the_kinds_its_config_lists() -> None:
    from bot.config import parse_config
    from bot.domain.errors import ConfigError

    cfg = parse_config({"providers": [{"kind": "aws", "accounts": [{"id": A}], "kinds": ["ec2", "volume", "ec2"]}]})
    provider = AwsProvider.from_config(cfg.providers[0], cfg.rules)
    assert list(provider.kinds) == ["ec2", "volume"]
    everything = parse_config({"providers": [{"kind": "aws", "accounts": [{"id": A}]}]})
    assert list(AwsProvider.from_config(everything.providers[0], everything.rules).kinds) == [k.name for k in KINDS]
    wrong = parse_config({"providers": [{"kind": "aws", "accounts": [{"id": A}], "kinds": ["ec2", "rds"]}]})
    with pytest.raises(ConfigError, match="unknown kind\\(s\\) rds; costbot knows ec2, notebook"):
        AwsProvider.from_config(wrong.providers[0], wrong.rules)



@pytest.mark.parametrize(("itype", "discount"), [("ml.p3.2xlarge", "0.70"), ("ml.p4d.24xlarge", "0.60"),
                                                 ("ml.g5.12xlarge", "0.70"), ("ml.x9.huge", "0.60"),
                                                 ("p3.8xlarge", "0.70"), ("g5.xlarge", "0.70"), ("p5.48xlarge", "0.50"),
                                                 ("x9.huge", "0.60")])
def test_spot_discounts_are_per_family_with_a_conservative_default(itype: str, discount: str) -> None:
    from bot.adapters.providers.aws.spot import discount_for, run_family

    assert discount_for(itype) == Decimal(discount)
    assert run_family("bert-ft-2026-11-20") == run_family("BERT-FT-2026-11-27") == "bert-ft"
    assert run_family("train-7") == "train" and run_family("2026") == "2026"


def test_the_kinds_a_schedule_can_stop_and_start() -> None:
    from bot.adapters.providers.demo import DemoProvider
    from bot.config import parse_config

    cfg = parse_config({"providers": [{"kind": "aws", "accounts": [{"id": A}]}]})
    assert AwsProvider.from_config(cfg.providers[0], cfg.rules).kinds_with("schedule") == {"ec2", "notebook"}
    assert AwsProvider.from_config(cfg.providers[0], cfg.rules).kinds_with("delete") == {"volume", "snapshot"}
    assert DemoProvider.kinds_with(None, "schedule") == {"ec2", "notebook"}  # type: ignore[arg-type]


def test_when_a_request_last_changed_an_instance_is_read_from_its_transition_reason() -> None:
    from datetime import UTC, datetime

    from bot.adapters.providers.aws.ec2 import Ec2Instances

    assert Ec2Instances.requested_at("User initiated (2026-12-01 21:03:44 GMT)") == datetime(2026, 12, 1, 21, 3, 44,
                                                                                             tzinfo=UTC)
    assert Ec2Instances.requested_at("User initiated (2026-12-01 21:03:44 UTC)") is not None  # moto's spelling
    assert Ec2Instances.requested_at("Server.ScheduledStop: Stopped due to scheduled retirement") is None
    assert Ec2Instances.requested_at("") is None and Ec2Instances.requested_at(None) is None
