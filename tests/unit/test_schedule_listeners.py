"""The heads-up's buttons through the real Slack listeners (handlers/schedules.py) on a Bolt App over the fakes:
what each click answers, what it changes, and what a forged or stale click is told."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from bot.config import parse_config
from bot.domain.actions import ActionNotAllowed
from bot.domain.schedules import KEPT, PLANNED, SKIPPED
from bot.render.common import error_blocks, notice_blocks
from handlers import schedules
from tests.fakes import FakeClock, build_world
from tests.unit.test_listeners import Slack, _plain
from tests.unit.test_schedules import CHANNELS, CONFIG_YAML, IDLE

CAPS = ("stop", "start", "schedule")


@pytest.fixture
def slack() -> Slack:
    w = build_world(parse_config(yaml.safe_load(CONFIG_YAML)), channel_ids=CHANNELS,
                    clock=FakeClock(datetime(2026, 12, 1, 12, tzinfo=UTC)))
    for ident in ("a", "b", "c"):
        w.provider.add(f"i-{ident}", name=f"dev-{ident}", tags={"team": "ml", "env": "dev"}, capabilities=CAPS,
                       usage=IDLE)
    s = Slack(w)
    schedules.register(s.app, w.use_cases, w.config)
    w.use_cases.schedules.run(datetime(2026, 12, 1, 18, 30, tzinfo=UTC))
    return s


def heads_up(slack: Slack) -> Any:
    ((_, view),) = slack.world.schedule_notifier.heads_ups
    return view


def states(slack: Slack) -> dict[str, str]:
    return {r.name: r.state for r in slack.world.schedule_store.nights()}


def test_keep_one_keep_all_and_skip_answer_the_clicker(slack: Slack) -> None:
    view = heads_up(slack)
    key_b = next(r.resource_key for r in view.rows if r.name == "dev-b")
    (reply,) = slack.click("costbot_schedule_keep", key_b, user="U0MEMBER1", block_id=f"headsup:{view.event_id}:1")
    text = ":crescent_moon: Keeping dev-b running tonight (audited)."
    assert reply == {"text": text, "blocks": _plain(notice_blocks(text)), "response_type": "ephemeral",
                     "replace_original": False}
    (again,) = slack.click("costbot_schedule_keep", key_b, user="U0ADMIN01", block_id=f"headsup:{view.event_id}:1")
    assert again["text"] == "Nothing changed: someone was first, and the heads-up shows who kept what."
    (everything,) = slack.click("costbot_schedule_keep_all", str(view.event_id), user="U0ML00001",
                                block_id=f"headsup:{view.event_id}")
    assert everything["text"] == ":crescent_moon: Keeping dev-a, dev-c running tonight (audited)."
    assert states(slack) == {"dev-a": KEPT, "dev-b": KEPT, "dev-c": KEPT}
    (skip,) = slack.click("costbot_schedule_skip", str(view.event_id), user="U0ADMIN01",
                          block_id=f"headsup:{view.event_id}")
    assert skip["text"] == ":fast_forward: <@U0ADMIN01> skipped this week's office-hours stops."
    updated = slack.world.schedule_notifier.updates[-1][2]
    assert updated.skipped_by == "U0ADMIN01"
    audit = [(e.actor, e.action) for e in slack.world.action_store.audit(20)]
    # the skip holds the rest of the week even though tonight was kept: audited for each resource it covers
    assert sorted(audit) == sorted([("U0MEMBER1", "keep"), ("U0ML00001", "keep"), ("U0ML00001", "keep"),
                                    *[("U0ADMIN01", "skip-week")] * 3])


def test_skip_first_keeps_everything_running(slack: Slack) -> None:
    view = heads_up(slack)
    (skip,) = slack.click("costbot_schedule_skip", str(view.event_id), user="U0MEMBER1",
                          block_id=f"headsup:{view.event_id}")
    assert skip["text"] == (":fast_forward: <@U0MEMBER1> skipped this week's office-hours stops (dev-a, dev-b, "
                            "dev-c keep running).")
    assert set(states(slack).values()) == {SKIPPED}


@pytest.mark.parametrize(("action_id", "value", "block_id", "user", "error"), [
    ("costbot_schedule_keep_all", "12abc", "headsup:1", "U0MEMBER1",
     "this button does not name a heads-up costbot sent"),
    ("costbot_schedule_skip", "99", "headsup:99", "U0MEMBER1", "this heads-up is no longer known to costbot"),
    ("costbot_schedule_keep", "fake|111122223333|us-east-1|vm|i-a", "rec:1", "U0MEMBER1",
     "this button does not name a heads-up costbot sent"),
    ("costbot_schedule_keep", "fake|111122223333|us-east-1|vm|i-zzz", "headsup:ID:0", "U0MEMBER1",
     "this resource is not in this heads-up"),
    ("costbot_schedule_keep_all", "ID", "headsup:ID", "U0STRANGER",
     "only team-ml's members and approvers can keep these resources running tonight"),
    ("costbot_schedule_skip", "ID", "headsup:ID", "U0OTHER01", "only team-ml's members and approvers can skip this "
                                                                "week's stops"),
])
def test_forged_stale_or_unauthorized_clicks_change_nothing(slack: Slack, action_id: str, value: str, block_id: str,
                                                             user: str, error: str) -> None:
    event_id = str(heads_up(slack).event_id)
    (reply,) = slack.click(action_id, value.replace("ID", event_id), user=user,
                           block_id=block_id.replace("ID", event_id))
    assert reply["blocks"] == _plain(error_blocks(ActionNotAllowed(error)))
    assert set(states(slack).values()) == {PLANNED} and slack.world.action_store.audit(10) == []
