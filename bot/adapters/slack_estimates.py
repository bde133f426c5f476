"""Cost checks in Slack: a change's approval request posted to its team's channel and updated in place when
someone decides, and a refused training run told to the team."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bot.adapters.slack_actions import slack_call
from bot.domain.estimate import GuardCheck, PlanApproval
from bot.render.estimate_blocks import approval_text, guard_refusal_blocks, plan_approval_blocks


class SlackEstimateNotifier:
    def __init__(self, client: Any, resolve_channel: Callable[[str], str]) -> None:
        self.client = client
        self.resolve_channel = resolve_channel

    @slack_call
    def post_approval(self, channel: str, approval: PlanApproval, approvers: Sequence[str]) -> tuple[str, str]:
        resp = self.client.chat_postMessage(channel=self.resolve_channel(channel),
                                            blocks=plan_approval_blocks(approval, approvers),
                                            text=approval_text(approval))
        return str(resp["channel"]), str(resp["ts"])

    @slack_call
    def update_approval(self, approval: PlanApproval, approvers: Sequence[str]) -> None:
        if not approval.channel or not approval.message_ts:
            return
        self.client.chat_update(channel=approval.channel, ts=approval.message_ts,
                                blocks=plan_approval_blocks(approval, approvers), text=approval_text(approval))

    @slack_call
    def post_guard_refusal(self, channel: str, check: GuardCheck) -> None:
        self.client.chat_postMessage(channel=self.resolve_channel(channel), blocks=guard_refusal_blocks(check),
                                     text=f"costbot refused to start a run for {check.team}")
