from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from bot.domain.actions import TRANSITIONS, ActionNotAllowed, ActionRequest, check_transition, sources_of
from bot.domain.recommendations import IDLE, OVERSIZED, Recommendation, RecommendationView, Rules, evaluate
from bot.domain.resources import INVOCATIONS, SCALE_TO_MINIMUM, ResizeOption, Resource, ResourceRef, Utilization
from bot.render.action_blocks import approval_blocks, recommendations_blocks

TODAY = date(2026, 11, 28)
RULES = Rules()


def res(itype: str = "g5.12xlarge", state: str = "running", tags: dict[str, str] | None = None,
        kind: str = "ec2", price: str = "5.672", **data: object) -> Resource:
    """A resource as a provider fills it in: the rules read what it can do and how it is judged, not its kind."""
    fields: dict[str, object] = {"running": state in ("running", "InService"), "stopped": state == "stopped",
                                 "capabilities": frozenset({"stop", "start", "resize"}),
                                 "stop_savings": Decimal(price) * 730, **data}
    return Resource(ResourceRef("aws", "1", "us-east-1", kind, "i-1"), "box", itype, state, tags or {},
                    Decimal(price), **fields)  # type: ignore[arg-type]


def test_idle_needs_gpu_cpu_and_network_all_low_for_the_whole_window() -> None:
    idle = Utilization(hours=24, cpu_max=3, gpu_max=1, network_max=1e5, days=1, cpu_p95=3, gpu_p95=1)
    finding = evaluate(res(), idle, RULES, TODAY)
    assert finding is not None and finding.kind == IDLE
    assert finding.monthly_savings == Decimal("5.672") * 730
    assert evaluate(res(), Utilization(hours=23, cpu_max=3, gpu_max=1, network_max=1e5), RULES, TODAY) is None
    assert evaluate(res(), Utilization(hours=24, cpu_max=3, gpu_max=6, network_max=1e5), RULES, TODAY) is None
    assert evaluate(res(), Utilization(hours=24, cpu_max=11, gpu_max=1, network_max=1e5), RULES, TODAY) is None
    assert evaluate(res(), Utilization(hours=24, cpu_max=3, gpu_max=1, network_max=6e6), RULES, TODAY) is None


def test_never_flag_protected_snoozed_or_stopped() -> None:
    idle = Utilization(hours=24, cpu_max=1, gpu_max=0, network_max=0)
    assert evaluate(res(tags={"CostBot": "Protected"}), idle, RULES, TODAY) is None
    assert evaluate(res(tags={"costbot:snooze-until": "2026-12-01"}), idle, RULES, TODAY) is None
    assert evaluate(res(tags={"costbot:snooze-until": "2026-11-27"}), idle, RULES, TODAY) is not None
    assert evaluate(res(state="stopped"), idle, RULES, TODAY) is None


def test_oversized_uses_p95_over_the_days_and_names_the_smaller_size() -> None:
    busy_ish = Utilization(hours=24, cpu_max=40, gpu_max=35, network_max=1e8, days=7, cpu_p95=20, gpu_p95=25)
    smaller = ResizeOption("m5.2xlarge", Decimal("0.384") * 730)
    finding = evaluate(res("m5.4xlarge", price="0.768"), busy_ish, RULES, TODAY, resize=smaller)
    assert finding is not None and finding.kind == OVERSIZED and finding.target_type == "m5.2xlarge"
    assert finding.monthly_savings == Decimal("0.384") * 730
    short = Utilization(hours=24, cpu_max=40, network_max=1e8, days=6, cpu_p95=20)
    assert evaluate(res("m5.4xlarge"), short, RULES, TODAY, resize=smaller) is None
    # no smaller size offered, or a resource that cannot be resized: never oversized
    assert evaluate(res("m5.4xlarge"), busy_ish, RULES, TODAY) is None
    fixed = res("m5.4xlarge", capabilities=frozenset({"stop", "start"}))
    assert evaluate(fixed, busy_ish, RULES, TODAY, resize=smaller) is None


def test_a_training_box_is_stopped_when_idle_else_offered_spot_before_any_resize() -> None:
    from bot.domain.recommendations import SPOT

    trains = res("m5.4xlarge", price="0.768", spot_discount=Decimal("0.70"), spot_savings=Decimal("392.45"),
                 spot_reason="batch training on on-demand capacity; next launch: spot")
    idle = Utilization(hours=24, cpu_max=3, gpu_max=1, network_max=1e5, days=7, cpu_p95=3, gpu_p95=1)
    busy_ish = Utilization(hours=24, cpu_max=40, gpu_max=35, network_max=1e8, days=7, cpu_p95=20, gpu_p95=25)
    smaller = ResizeOption("m5.2xlarge", Decimal("0.384") * 730)
    stopped = evaluate(trains, idle, RULES, TODAY, resize=smaller)
    assert stopped is not None and stopped.kind == IDLE  # Stop saves all of it
    spot = evaluate(trains, busy_ish, RULES, TODAY, resize=smaller)
    assert spot is not None and spot.kind == SPOT and spot.monthly_savings == Decimal("392.45")
    assert spot.reason == "batch training on on-demand capacity; next launch: spot" and spot.price_ratio == Decimal(
        "0.30")
    assert evaluate(trains, Utilization(hours=23, cpu_max=40), RULES, TODAY) is None  # too few metrics to judge


def test_resources_judged_on_invocations_are_idle_without_any() -> None:
    ep = res("ml.g5.xlarge", state="InService", kind="anything", idle_signal=INVOCATIONS,
             stop_means=SCALE_TO_MINIMUM, stop_savings=Decimal("1.41") * 730)
    idle = evaluate(ep, Utilization(hours=24, invocations=0), RULES, TODAY)
    assert idle is not None and idle.reason == "no invocations in 24 h" and idle.monthly_savings == Decimal("1029.30")
    assert evaluate(ep, Utilization(hours=24, invocations=3), RULES, TODAY) is None
    # already down to its minimum: nothing left to stop
    assert evaluate(res("ml.g5.xlarge", state="InService", idle_signal=INVOCATIONS, stopped=True),
                    Utilization(hours=24, invocations=0), RULES, TODAY) is None


def test_gpu_not_measured_only_where_a_gpu_metric_is_expected() -> None:
    no_gpu = Utilization(hours=24, cpu_max=3, network_max=1e5)
    expected = evaluate(res(gpu_expected=True), no_gpu, RULES, TODAY)
    assert expected is not None and expected.reason == "idle for 24 h (CPU ≤ 3%, GPU not measured, network ≤ 0.1 MB/h)"
    plain = evaluate(res(), no_gpu, RULES, TODAY)
    assert plain is not None and plain.reason == "idle for 24 h (CPU ≤ 3%, network ≤ 0.1 MB/h)"


def test_state_machine() -> None:
    check_transition("requested", "approved")
    check_transition("approved", "executing")
    check_transition("executing", "succeeded")
    for bad in (("succeeded", "executing"), ("requested", "executing"), ("rejected", "approved")):
        with pytest.raises(ActionNotAllowed):
            check_transition(*bad)


def test_sources_of_a_state_are_the_tables_own() -> None:
    assert sources_of("approved") == ("requested",)
    assert sources_of("expired") == ("requested", "approved")
    assert sources_of("executing") == ("approved",)
    assert sources_of("failed") == sources_of("succeeded") == sources_of("refused") == ("executing",)
    assert sources_of("requested") == ()  # only ever a new request's first state
    for target in TRANSITIONS:
        for source in sources_of(target):
            check_transition(source, target)


def _req(status: str, **kw: object) -> ActionRequest:
    now = datetime(2026, 11, 28, 9, tzinfo=UTC)
    base = dict(id=7, resource_key="aws|1|us-east-1|ec2|i-1", action="stop", team="team-ml", requested_by="U1",
                status=status, created_at=now, expires_at=now + timedelta(hours=24))
    base.update(kw)
    return ActionRequest(**base)  # type: ignore[arg-type]


REC = Recommendation(resource_key="aws|1|us-east-1|ec2|i-1", kind=IDLE, team="team-ml", name="gpu-dev-02",
                     resource_type="g5.12xlarge", reason="idle for 72 h (GPU ≤ 1%, CPU ≤ 2%)",
                     hourly_price=Decimal("5.672"), monthly_savings=Decimal("4140.56"), id=1)


def test_recommendation_rows_offer_buttons_until_acted_on() -> None:
    blocks = [b.to_dict() for b in recommendations_blocks("team-ml", [RecommendationView(REC)])]
    assert blocks[2]["text"]["text"] == (
        ":zzz: *gpu-dev-02* `g5.12xlarge` — team-ml · idle for 72 h (GPU ≤ 1%, CPU ≤ 2%) · $136.13/day · "
        "saves ~$4,141/month · ec2 `i-1` · 1/us-east-1")
    actions = blocks[3]["elements"]
    assert [(e["action_id"], e["value"]) for e in actions] == [
        ("costbot_stop", REC.resource_key), ("costbot_snooze", REC.resource_key),
        ("costbot_not_mine", REC.resource_key)]
    assert actions[0]["style"] == "danger" and actions[0]["confirm"]["title"]["text"] == "Stop this resource?"
    assert blocks[3]["block_id"] == "rec:1"  # a click is judged against the finding that offered it
    asked = _req("requested", channel="C1", message_ts="1.2")
    waiting = [b.to_dict() for b in recommendations_blocks("team-ml", [RecommendationView(REC, asked)])]
    assert "waiting for an approver" in waiting[3]["elements"][0]["text"]
    assert all(b["type"] != "actions" for b in waiting)
    untold = [b.to_dict() for b in recommendations_blocks("team-ml", [RecommendationView(REC, _req("requested"))])]
    assert "Slack could not be reached to tell the approvers yet" in untold[3]["elements"][0]["text"]
    done = _req("succeeded", result="stopped i-1", approved_by="U2")
    undone = [b.to_dict() for b in recommendations_blocks(
        "team-ml", [RecommendationView(REC, done, datetime(2026, 11, 29, tzinfo=UTC))])]
    assert undone[-1]["elements"][0]["action_id"] == "costbot_undo" and undone[-1]["elements"][0]["value"] == "7"


def test_approval_request_mentions_approvers_and_locks_after_decision() -> None:
    open_blocks = [b.to_dict() for b in approval_blocks(_req("requested"), REC, ["UA", "UB"])]
    assert "<@U1> asks to *stop* *gpu-dev-02* — saves ~$4,141/month." in open_blocks[0]["text"]["text"]
    assert "<@UA> <@UB>: only you can decide" in open_blocks[1]["elements"][0]["text"]
    assert [e["action_id"] for e in open_blocks[2]["elements"]] == ["costbot_approve", "costbot_reject"]
    decided = [b.to_dict() for b in approval_blocks(_req("rejected", approved_by="UA"), REC, ["UA"])]
    assert all(b["type"] != "actions" for b in decided)
    assert "rejected by <@UA>" in decided[1]["elements"][0]["text"]


def test_many_rows_stay_within_slack_limits() -> None:
    rows = [RecommendationView(Recommendation(resource_key=f"aws|1|r|ec2|i-{i}", kind=IDLE, team="t", name=f"n{i}",
                                              resource_type="g5.xlarge", reason="idle", id=i)) for i in range(40)]
    blocks = recommendations_blocks("t", rows)
    assert len(blocks) <= 50
    assert "…and 25 more" in blocks[-1].to_dict()["elements"][0]["text"]


def test_assess_says_why_a_resource_is_not_flagged() -> None:
    from bot.domain.recommendations import Cleared, assess

    few = assess(res(), Utilization(hours=20, cpu_max=2, gpu_max=1, network_max=1e3), RULES, TODAY)
    assert isinstance(few, Cleared) and few.unknown
    assert few.reason == "box has 20 h of recent metrics; 24 h are needed to judge it"
    busy = assess(res(), Utilization(hours=24, cpu_max=35, gpu_max=88, network_max=1e3), RULES, TODAY)
    assert isinstance(busy, Cleared) and not busy.unknown
    assert busy.reason == "box is busy again (GPU 88%, CPU 35%)"
    protected = assess(res(tags={"costbot": "protected"}), Utilization(hours=24, cpu_max=1), RULES, TODAY)
    assert isinstance(protected, Cleared) and protected.reason == "box is protected now"
