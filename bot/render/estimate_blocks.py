"""A change waiting for its team's approval (`costbot estimate --request-approval`), and a guarded training run
that was refused (`costbot guard`), in Block Kit. Pure: domain in, blocks out."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.domain.estimate import GuardCheck, PlanApproval
from bot.domain.money import format_money
from bot.render.action_ids import ACTION_PLAN_APPROVE, ACTION_PLAN_REJECT
from bot.render.common import MAX_HEADER_CHARS, MAX_TEXT_CHARS, clip
from bot.render.estimate_out import signed


def approval_text(approval: PlanApproval) -> str:
    """The fallback text (notifications) of an approval request."""
    team = approval.team or "no team"
    return (f"Cost check for {approval.title or 'a change'}: {signed(approval.monthly_delta, approval.currency)}"
            f"/month for {team} — {approval.status}")


def plan_approval_blocks(approval: PlanApproval, approvers: Sequence[str]) -> list[Block]:
    cur = approval.currency
    title = f"Cost check: {approval.title or 'a change'}"
    figures = f"*{signed(approval.monthly_delta, cur)}/month* for *{approval.team or 'no team'}*"
    if approval.one_off:
        figures += f", {format_money(approval.one_off, cur)} one-off"
    if approval.headroom_after is not None:
        figures += f" · budget headroom this month after it: {format_money(approval.headroom_after, cur)}"
    reasons = "\n".join(f"• {r}" for r in approval.reasons)
    blocks: list[Block] = [
        HeaderBlock(text=clip(title, MAX_HEADER_CHARS)),
        SectionBlock(text=MarkdownTextObject(text=clip(f"{figures}\n{reasons}", MAX_TEXT_CHARS))),
    ]
    plan = f"plan `{approval.plan_hash[:12]}` · asked by {clip(approval.requested_by, 80)}"
    if approval.status == "requested":
        who = " ".join(f"<@{a}>" for a in approvers) or "an admin"
        expires = f" · expires {approval.expires_at:%Y-%m-%d %H:%M} UTC" if approval.expires_at else ""
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text=clip(f"{who}: only you can decide · {plan}{expires}", MAX_TEXT_CHARS))]))
        value = str(approval.id)
        blocks.append(ActionsBlock(block_id=f"plan:{approval.id}", elements=[
            ButtonElement(text="Approve", action_id=ACTION_PLAN_APPROVE, value=value, style="primary",
                          confirm=ConfirmObject(title="Approve this change?", confirm="Approve", deny="Cancel",
                                                text="The same plan then passes the cost check.")),
            ButtonElement(text="Reject", action_id=ACTION_PLAN_REJECT, value=value, style="danger"),
        ]))
    else:
        who = f"<@{approval.decided_by}>" if approval.decided_by else "costbot"
        when = f" on {approval.decided_at:%Y-%m-%d %H:%M} UTC" if approval.decided_at else ""
        mark = ":white_check_mark:" if approval.status == "approved" else ":x:"
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text=clip(f"{mark} *{approval.status.capitalize()}* by {who}{when} · {plan}", MAX_TEXT_CHARS))]))
    return blocks


def guard_refusal_blocks(check: GuardCheck) -> list[Block]:
    command = f" `{clip(check.command, 200)}`" if check.command else " a training run"
    text = f":no_entry: costbot refused to start{command} for *{check.team}*: {check.reason}."
    return [SectionBlock(text=MarkdownTextObject(text=clip(text, MAX_TEXT_CHARS)))]
