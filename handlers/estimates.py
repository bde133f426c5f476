"""Approve / Reject on a change's cost check (`costbot estimate --request-approval`): parse the click, let the
estimate use case decide (team approvers only, first decision wins), tell the clicker."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, Respond

from bot.config import CostbotConfig
from bot.domain.actions import ActionNotAllowed
from bot.render import action_ids
from bot.render.common import notice_blocks
from bot.services.container import UseCases
from handlers.errors import ack_now, reported


def _approval_id(body: dict[str, Any]) -> int:
    actions = body.get("actions") or [{}]
    value = str((actions[0] if isinstance(actions[0], dict) else {}).get("value") or "")
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        raise ActionNotAllowed("this button does not carry an approval number")
    return int(value)


def register(app: App, uc: UseCases, config: CostbotConfig) -> None:
    def decide(body: dict[str, Any], respond: Respond, approve: bool) -> None:
        decided = uc.estimates.decide(_approval_id(body), str(body["user"]["id"]), approve=approve)
        text = (f":white_check_mark: Approved: the same plan now passes the cost check for {decided.team or 'admins'}."
                if approve else f":x: Rejected: the plan keeps failing the cost check for {decided.team or 'admins'}.")
        respond(blocks=notice_blocks(text), text=text, response_type="ephemeral", replace_original=False)

    @reported
    def approve(body: dict[str, Any], respond: Respond) -> None:
        decide(body, respond, approve=True)

    @reported
    def reject(body: dict[str, Any], respond: Respond) -> None:
        decide(body, respond, approve=False)

    app.action(action_ids.ACTION_PLAN_APPROVE)(ack=ack_now, lazy=[approve])
    app.action(action_ids.ACTION_PLAN_REJECT)(ack=ack_now, lazy=[reject])
