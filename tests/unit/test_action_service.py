"""ActionService on fakes: who may act, when the provider is called (once, after a re-check), undo, expiry,
dry run and the upkeep — the same service the bot runs, with every port in memory."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from bot.domain.actions import ActionNotAllowed
from bot.domain.errors import NotifyError
from bot.domain.recommendations import Recommendation
from bot.domain.resources import ResizeOption, Utilization
from tests.fakes import BUSY_USAGE, IDLE_USAGE, FakeWorld, ProviderCall, build_world

APPROVER, MEMBER, MEMBER2, ADMIN = "U0APPROVE", "U0MEMBER1", "U0MEMBER2", "U0ADMIN01"
CONFIG: dict[str, Any] = {
    "teams": {
        "team-ml": {"tags": {"team": "ml"}, "channel": "#team-ml", "members": [MEMBER, MEMBER2],
                    "approvers": [APPROVER]},
        "team-data": {"tags": {"team": "data"}, "channel": "#team-data", "approvers": ["U0DATA001"]},
    },
    "admins": [ADMIN],
    "owners_channel": "#owners",
}
OVERSIZED = Utilization(hours=26, cpu_max=40.0, gpu_max=40.0, network_max=80_000_000.0, days=7.1, cpu_p95=20.0,
                        gpu_p95=15.0)


def world(**config: Any) -> FakeWorld:
    return build_world({**CONFIG, **config}, channel_ids={"#team-ml": "C0TEAMML1", "#owners": "C0OWNERS1"})


def offered(w: FakeWorld, ident: str = "i-1", **resource: Any) -> tuple[str, Recommendation]:
    """A team-ml resource found idle (or what `resource` makes it) by a scan: its key and recommendation."""
    options: dict[str, Any] = {"name": "gpu-dev", "tags": {"team": "ml"}, "usage": IDLE_USAGE, **resource}
    key = w.provider.add(ident, **options)
    found = [r for r in w.use_cases.scans.scan().recommendations if r.resource_key == key]
    assert len(found) == 1 and found[0].id is not None
    stored = w.action_store.recommendation(found[0].id)  # with the message it was posted in
    assert stored is not None
    return key, stored


def source(rec: Recommendation) -> str:
    return f"rec:{rec.id}"


def test_an_approvers_click_stops_at_once_and_closes_the_finding() -> None:
    w = world()
    key, rec = offered(w)
    req = w.use_cases.actions.request(key, "stop", APPROVER, source=source(rec))
    assert (req.status, req.result, req.approved_by) == ("succeeded", "stopped i-1", APPROVER)
    assert w.provider.acted() == [ProviderCall("stop", key)]
    assert w.provider.state_of(key) == ("stopped", "g5.xlarge")
    assert w.action_notifier.approvals == []  # nobody else was asked
    assert [(e.actor, e.result, e.before, e.after) for e in w.use_cases.actions.audit()] == [
        (APPROVER, "succeeded", "running g5.xlarge x1", "stopped g5.xlarge x1"), (APPROVER, "approved", None, None)]
    closed = w.action_store.recommendation(rec.id or 0)
    assert closed is not None and (closed.status, closed.close_reason) == ("closed", "stop done")
    # the team's message shows the outcome and offers Undo for a day
    update = w.action_notifier.updated[-1]
    assert (update.channel, update.ts) == (rec.channel, rec.message_ts) == ("C0TEAMML1", "1700000000.000001")
    (row,) = update.rows
    assert row.request is not None and row.request.id == req.id and row.request.status == "succeeded"
    assert row.undo_until == req.created_at + timedelta(hours=24) == w.clock() + timedelta(hours=24)


def test_a_members_click_asks_the_approvers_who_alone_decide() -> None:
    w = world()
    key, rec = offered(w)
    actions = w.use_cases.actions
    req = actions.request(key, "stop", MEMBER, source=source(rec))
    assert req.status == "requested" and req.approved_by is None
    assert w.provider.acted() == []
    (asked,) = w.action_notifier.approvals
    assert (asked.channel, asked.approvers) == ("C0TEAMML1", (APPROVER, ADMIN))
    assert asked.request is not None and asked.request.id == req.id and asked.recommendation == rec
    assert (req.channel, req.message_ts) == (asked.channel, asked.ts)
    with pytest.raises(ActionNotAllowed, match=f"only <@{APPROVER}>, <@{ADMIN}> can approve this"):
        actions.approve(req.id, MEMBER)
    assert w.provider.acted() == []
    done = actions.approve(req.id, APPROVER)
    assert (done.status, done.approved_by, done.requested_by) == ("succeeded", APPROVER, MEMBER)
    assert w.provider.acted() == [ProviderCall("stop", key)]
    last = w.action_notifier.approval_updates[-1]
    assert last.request is not None and last.request.status == "succeeded"
    # a double click on Approve, or a second approver: nothing runs twice
    assert actions.approve(req.id, ADMIN).status == "succeeded"
    assert w.provider.acted() == [ProviderCall("stop", key)]


def test_reject_records_who_and_frees_the_resource() -> None:
    w = world()
    key, rec = offered(w)
    actions = w.use_cases.actions
    req = actions.request(key, "stop", MEMBER, source=source(rec))
    with pytest.raises(ActionNotAllowed, match="only the team's approvers or an admin can reject this"):
        actions.reject(req.id, MEMBER)
    rejected = actions.reject(req.id, APPROVER)
    assert (rejected.status, rejected.approved_by) == ("rejected", APPROVER)
    assert w.provider.acted() == [] and w.action_store.open_request(key) is None
    assert actions.audit(1)[0].result == "rejected"
    again = actions.request(key, "stop", MEMBER, source=source(rec))
    assert again.id != req.id and again.status == "requested"


def test_undo_starts_it_again_within_the_window_only() -> None:
    w = world()
    key, rec = offered(w)
    actions = w.use_cases.actions
    stop = actions.request(key, "stop", APPROVER, source=source(rec))
    undo = actions.undo(stop.id, APPROVER)
    assert (undo.action, undo.status, undo.undo_of, undo.result) == ("start", "succeeded", stop.id, "started i-1")
    assert w.provider.acted() == [ProviderCall("stop", key), ProviderCall("start", key, detail="1")]
    assert w.provider.state_of(key) == ("running", "g5.xlarge")
    assert actions.undo_until(undo) is None  # an undo is not undone
    closed = w.action_store.recommendation(rec.id or 0)
    assert closed is not None and closed.status == "closed"  # the finding stays acted on
    # a day later the stop can no longer be undone from here
    second, rec2 = offered(w, "i-2", name="gpu-dev-2")
    stopped = actions.request(second, "stop", APPROVER, source=source(rec2))
    w.clock.advance(hours=24, seconds=1)
    with pytest.raises(ActionNotAllowed, match="can no longer be undone"):
        actions.undo(stopped.id, APPROVER)


def test_a_members_undo_asks_the_approvers_too() -> None:
    w = world()
    key, rec = offered(w)
    stop = w.use_cases.actions.request(key, "stop", APPROVER, source=source(rec))
    undo = w.use_cases.actions.undo(stop.id, MEMBER)
    assert (undo.action, undo.status) == ("start", "requested")
    assert w.provider.state_of(key) == ("stopped", "g5.xlarge")


@pytest.mark.parametrize(("change", "status", "why"), [
    ("busy", "refused", "gpu-dev is busy again (GPU 95%, CPU 80%)"),
    ("protected", "refused", "gpu-dev is protected now"),
    ("stopped", "refused", "gpu-dev is already stopped"),
    ("gone", "failed", "i-1 no longer exists"),
])
def test_execution_re_checks_live_state_and_grounds(change: str, status: str, why: str) -> None:
    w = world()
    key, rec = offered(w)
    req = w.use_cases.actions.request(key, "stop", MEMBER, source=source(rec))
    if change == "busy":
        w.provider.usage[key] = BUSY_USAGE
    elif change == "protected":
        w.provider.set_tags(key, CostBot="Protected")
    elif change == "stopped":
        w.provider.set_state(key, "stopped")
    else:
        w.provider.remove(key)
    done = w.use_cases.actions.approve(req.id, APPROVER)
    assert done.status == status and (done.result if status == "refused" else done.error) == why
    assert w.provider.acted() == []
    entry = w.use_cases.actions.audit(1)[0]
    assert (entry.result, entry.error, entry.actor) == (status, why, APPROVER)
    assert w.action_store.open_request(key) is None  # settled: the resource is free again


def test_a_second_click_joins_the_open_request() -> None:
    w = world()
    key, rec = offered(w)
    actions = w.use_cases.actions
    first = actions.request(key, "stop", MEMBER, source=source(rec), click="click-1")
    assert actions.request(key, "stop", MEMBER, source=source(rec), click="click-1") == first  # a replay
    joined = actions.request(key, "stop", MEMBER2, source=source(rec), click="click-2")
    assert joined.id == first.id and joined.status == "requested"
    assert len(w.action_notifier.approvals) == 1
    approved = actions.request(key, "stop", APPROVER, source=source(rec), click="click-4")
    assert (approved.id, approved.status, approved.approved_by) == (first.id, "succeeded", APPROVER)
    assert w.provider.acted() == [ProviderCall("stop", key)]


def test_dry_run_says_what_would_happen_and_changes_nothing() -> None:
    w = world(dry_run=True)
    key, rec = offered(w)
    req = w.use_cases.actions.request(key, "stop", APPROVER, source=source(rec))
    assert (req.status, req.result) == ("succeeded", "dry run: would stop i-1; nothing was changed")
    assert w.provider.calls == [ProviderCall("stop", key, dry_run=True)]
    assert w.provider.state_of(key) == ("running", "g5.xlarge")
    still = w.action_store.recommendation(rec.id or 0)
    assert still is not None and still.status == "open"
    assert w.use_cases.actions.undo_until(req) is None
    assert [e.dry_run for e in w.use_cases.actions.audit(1)] == [True]


def test_resize_to_the_offered_size_and_back() -> None:
    w = world()
    key, rec = offered(w, name="etl-big", type="g5.2xlarge", usage=OVERSIZED,
                       resize_to=ResizeOption("g5.xlarge", Decimal("500")))
    assert (rec.kind, rec.target_type, rec.monthly_savings) == ("oversized", "g5.xlarge", Decimal("500"))
    actions = w.use_cases.actions
    asked = actions.request(key, "resize", MEMBER, source=source(rec))
    # an approver's Stop does not approve a waiting Resize: it is told what is under way
    assert actions.request(key, "stop", APPROVER, source=source(rec)) == asked and asked.status == "requested"
    assert w.provider.acted() == []
    req = actions.approve(asked.id, APPROVER)
    assert req.status == "succeeded" and req.params["from"] == "g5.2xlarge" and req.params["to"] == "g5.xlarge"
    assert w.provider.state_of(key) == ("running", "g5.xlarge")
    back = actions.undo(req.id, APPROVER)
    assert back.status == "succeeded" and w.provider.state_of(key) == ("running", "g5.2xlarge")
    assert [c.detail for c in w.provider.acted()] == ["g5.xlarge", "g5.2xlarge"]


def test_requests_that_may_not_run_are_refused_before_anything_is_recorded() -> None:
    w = world()
    kept = w.provider.add("i-9", name="keep-me", tags={"team": "ml", "costbot": "protected"}, usage=IDLE_USAGE)
    with pytest.raises(ActionNotAllowed, match=r"keep-me is protected \(costbot=protected\)"):
        w.use_cases.actions.request(kept, "stop", APPROVER)
    foreign = kept.replace("111122223333", "999999999999")
    with pytest.raises(ActionNotAllowed, match="account 999999999999 is not configured"):
        w.use_cases.actions.request(foreign, "stop", ADMIN)
    with pytest.raises(ActionNotAllowed, match="does not name a resource"):
        w.use_cases.actions.request("not-a-key", "stop", ADMIN)
    key, _ = offered(w)
    with pytest.raises(ActionNotAllowed, match="no open recommendation justifies this"):
        w.use_cases.actions.request(key, "stop", APPROVER, source="rec:999")
    assert w.provider.calls == [] and w.action_store.requests_in(["requested", "approved", "executing"]) == []


def test_an_unanswered_request_expires() -> None:
    w = world()
    key, rec = offered(w)
    req = w.use_cases.actions.request(key, "stop", MEMBER, source=source(rec))
    w.clock.advance(hours=24)
    with pytest.raises(ActionNotAllowed, match="this request has expired"):
        w.use_cases.actions.approve(req.id, APPROVER)
    expired = w.action_store.request(req.id)
    assert expired is not None and expired.status == "expired" and w.provider.acted() == []


def test_upkeep_settles_what_a_vanished_executor_left_and_tells_approvers_slack_missed() -> None:
    w = world()
    key, rec = offered(w)
    actions, store = w.use_cases.actions, w.action_store
    # a process took the request and stopped the box, then vanished before recording it
    req, _ = store.create_request(resource_key=key, action="stop", team="team-ml", requested_by=APPROVER,
                                  status="approved", expires_at=w.clock() + actions.lease * 100,
                                  params={"basis": "idle", "basis_ref": str(rec.id)})
    assert store.transition(req.id, ["approved"], "executing", owner="gone-host-1")
    w.provider.set_state(key, "stopped")
    assert actions.reconcile() == 0  # its executor might still be alive
    w.clock.advance(seconds=actions.lease.total_seconds() + 1)
    assert actions.reconcile() == 1
    settled = store.request(req.id)
    assert settled is not None and (settled.status, settled.result) == \
        ("succeeded", "completed before its process stopped (stopped g5.xlarge)")
    # Slack was down when a member asked: the request is kept and the approvers are told later
    other, rec2 = offered(w, "i-2", name="gpu-dev-2")
    w.action_notifier.fail = NotifyError("Slack could not be reached (ConnectionError)")
    waiting = actions.request(other, "stop", MEMBER, source=source(rec2))
    assert waiting.status == "requested" and waiting.message_ts is None
    w.action_notifier.fail = None
    actions.reconcile()
    assert [a.request.id for a in w.action_notifier.approvals if a.request] == [waiting.id]
    told = store.request(waiting.id)
    assert told is not None and told.message_ts == w.action_notifier.approvals[0].ts
