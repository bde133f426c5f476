"""The demo provider: the demo organization's resources behind the provider port, with their state kept (in memory
here, and in the app-state database on SQLite)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.adapters import providers
from bot.adapters.providers.demo import DemoProvider
from bot.adapters.state.database import StateDatabase
from bot.adapters.state.demo_repository import SqlDemoFleetStore
from bot.config import parse_config
from bot.demo import ACCOUNTS, LIVE_PROFILES, demo_resources
from bot.domain.actions import ActionNotAllowed
from bot.domain.errors import ProviderError
from bot.domain.recommendations import IDLE, OVERSIZED, Finding, Rules, assess
from bot.domain.resources import ResourceRef, Utilization

TODAY = date(2026, 11, 28)


def by_name(provider: DemoProvider) -> dict[str, Any]:
    return {r.name: r for r in provider.list_resources()}


def test_it_lists_the_demo_organizations_running_resources_with_their_kinds() -> None:
    provider = DemoProvider()
    found = {r.name: r for r in provider.list_resources()}
    assert set(found) == set(LIVE_PROFILES)
    billing = {r.name: r for r in demo_resources()}
    gpu = found["gpu-dev-02"]
    instance_id = billing["gpu-dev-02"].resource_id.rsplit("/", 1)[-1]  # the id its bill carries
    assert re.fullmatch(r"i-[0-9a-f]{17}", instance_id)
    assert gpu.ref == ResourceRef("demo", ACCOUNTS["ml-dev"], "us-east-1", "ec2", instance_id)
    assert (gpu.type, gpu.state, gpu.running, gpu.stopped) == ("g5.12xlarge", "running", True, False)
    assert gpu.tags == billing["gpu-dev-02"].tags and gpu.gpu_expected
    assert gpu.capabilities == frozenset({"stop", "start", "resize", "schedule"})
    assert gpu.stop_savings == Decimal("5.672") * 730
    assert (found["nb-search-dev"].state, found["nb-search-dev"].running) == ("Stopped", False)
    endpoint = found["endpoint-ranker"]
    assert (endpoint.ref.kind, endpoint.idle_signal, endpoint.stop_means) == ("endpoint", "invocations",
                                                                             "scale_to_minimum")
    assert endpoint.stopped and endpoint.stop_savings == 0  # one instance: already at the minimum


def test_the_rules_find_the_idle_gpu_box_the_oversized_ranker_and_the_unowned_batch_box() -> None:
    provider = DemoProvider()
    resources = provider.list_resources()
    usage = provider.utilization([r for r in resources if r.running], hours=7 * 24 + 2, recent_hours=26)
    findings = {}
    for res in resources:
        resize = provider.resize_option(res) if res.running else None
        verdict = assess(res, usage.get(res.ref.key, Utilization(hours=0)), Rules(), TODAY, resize)
        if isinstance(verdict, Finding):
            findings[res.name] = verdict
    assert set(findings) == {"gpu-dev-02", "train-ranking-01", "legacy-batch-07"}
    assert findings["gpu-dev-02"].kind == IDLE
    assert findings["gpu-dev-02"].reason == "idle for 26 h (GPU ≤ 1%, CPU ≤ 2%, network ≤ 0.4 MB/h)"
    assert (findings["train-ranking-01"].kind, findings["train-ranking-01"].target_type) == (OVERSIZED, "g5.xlarge")
    assert findings["train-ranking-01"].monthly_savings == (Decimal("1.212") - Decimal("1.006")) * 730
    assert provider.requests() == {"demo:ListResources": 1, "demo:GetMetrics": 1}


def test_stop_start_resize_and_tag_change_the_resource() -> None:
    provider = DemoProvider()
    gpu = by_name(provider)["gpu-dev-02"].ref
    assert provider.stop(gpu, dry_run=True) == "would stop gpu-dev-02"
    assert provider.describe(gpu).state == "running"
    assert provider.stop(gpu) == "stopped gpu-dev-02"
    stopped = provider.describe(gpu)
    assert stopped is not None and (stopped.state, stopped.running, stopped.stopped) == ("stopped", False, True)
    assert provider.start(gpu) == "started gpu-dev-02"
    assert provider.describe(gpu).state == "running"
    ranker = by_name(provider)["train-ranking-01"].ref
    assert provider.resize(ranker, "g5.xlarge") == ("changed train-ranking-01 from g5.2xlarge to g5.xlarge (stopped, "
                                                    "changed and started again)")
    resized = provider.describe(ranker)
    assert resized is not None and (resized.type, resized.state) == ("g5.xlarge", "running")
    # a smaller box works harder: the profile's p95 scaled by the capacity it lost (by price)
    usage = provider.utilization([resized], hours=170, recent_hours=26)[ranker.key]
    assert usage.cpu_p95 == pytest.approx(19 * 1.212 / 1.006)
    provider.tag(gpu, "costbot:snooze-until", "2026-12-05")
    assert provider.describe(gpu).tags["costbot:snooze-until"] == "2026-12-05"


def test_an_endpoint_stops_by_scaling_to_its_minimum_and_starts_back_to_its_count() -> None:
    from bot.demo import DemoResource, LiveProfile

    res = DemoResource("ep-big", "Amazon SageMaker", "AI and Machine Learning", "ml.g5.2xlarge", "SKU", "210987654321",
                       Decimal("1.515"), {"team": "ml"})
    provider = DemoProvider(fleet=[(res, LiveProfile("endpoint", state="InService", invocations=0, count=3))])
    (ep,) = provider.list_resources()
    assert not ep.stopped and ep.stop_savings == Decimal("1.515") * 2 * 730
    assert provider.stop(ep.ref) == "scaled endpoint ep-big from 3 to 1 instance(s)"
    assert provider.describe(ep.ref).stopped
    assert provider.start(ep.ref, count=3) == "scaled endpoint ep-big from 1 to 3 instance(s)"
    assert provider.describe(ep.ref).count == 3


def test_it_acts_only_on_its_own_resources() -> None:
    provider = DemoProvider()
    gpu = by_name(provider)["gpu-dev-02"].ref
    for ref in (ResourceRef("aws", gpu.account, gpu.region, "ec2", gpu.id),
                ResourceRef("demo", "123456789012", gpu.region, "ec2", gpu.id),
                ResourceRef("demo", gpu.account, "eu-west-1", "ec2", gpu.id),
                ResourceRef("demo", gpu.account, gpu.region, "ec2", "i-0nothere")):
        with pytest.raises(ActionNotAllowed):
            provider.check_ref(ref)
        with pytest.raises(ActionNotAllowed):
            provider.stop(ref)
    assert provider.describe(ResourceRef("demo", gpu.account, gpu.region, "ec2", "i-0nothere")) is None
    nb = by_name(provider)["nb-ml-research"].ref
    with pytest.raises(ProviderError, match="resizing a notebook is not supported"):
        provider.resize(nb, "ml.t3.large")


def test_billing_ids_map_to_the_running_resources_only() -> None:
    provider = DemoProvider()
    billing = {r.name: r.resource_id for r in demo_resources()}
    assert provider.resource_key(billing["gpu-dev-02"]) == by_name(provider)["gpu-dev-02"].ref.key
    assert provider.resource_key(billing["s3-ml-datasets"]) is None  # a bucket: billed, not something to stop
    assert provider.resource_key("arn:aws:ec2:us-east-1:999999999999:instance/i-0abc") is None


def test_the_registry_builds_it_from_config_and_its_state_survives_a_restart(tmp_path: Path) -> None:
    config = parse_config({"providers": [{"kind": "demo", "name": "playground"}]})
    state = StateDatabase(f"sqlite:///{tmp_path / 'state.db'}")
    first = providers.create(config.providers[0], config.rules, state)
    assert isinstance(first, DemoProvider) and first.name == "playground"
    gpu = by_name(first)["gpu-dev-02"].ref
    assert gpu.provider == "playground"
    first.stop(gpu)
    first.tag(gpu, "owner", "ana")
    again = providers.create(config.providers[0], config.rules, StateDatabase(state.url))  # another process
    seen = again.describe(gpu)
    assert seen is not None and seen.state == "stopped" and seen.tags["owner"] == "ana"
    assert SqlDemoFleetStore(state).states("other-demo") == {}  # kept per provider name
    assert again.reset() == 1
    assert first.describe(gpu).state == "running"


def test_demo_provider_config() -> None:
    config = parse_config({"providers": [{"kind": "demo"}, {"kind": "aws"}]})
    assert [(p.kind, p.name) for p in config.providers] == [("demo", "demo"), ("aws", "aws")]
    with pytest.raises(Exception, match=r"providers\.0\.region: unknown key"):
        parse_config({"providers": [{"kind": "demo", "region": "us-east-1"}]})
    with pytest.raises(Exception, match="both named 'demo'"):
        parse_config({"providers": [{"kind": "demo"}, {"kind": "demo"}]})


def test_listing_by_capability_leaves_out_the_kinds_without_it() -> None:
    provider = DemoProvider()
    every = provider.list_resources()
    scheduled = provider.list_resources("schedule")
    assert scheduled and {r.ref.kind for r in scheduled} == {"ec2", "notebook"}
    assert [r.ref.key for r in scheduled] == [r.ref.key for r in every if r.ref.kind in ("ec2", "notebook")]
