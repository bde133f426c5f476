"""Block Kit for recommendations, approval requests, action outcomes and the audit log (slack_sdk models).

Buttons carry only what they act on: a resource key (Stop, Resize, Snooze, Not mine) or a request id
(Approve, Reject, Undo). Destructive buttons are `danger` and ask for confirmation.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

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

from bot.domain.actions import ActionRequest, AuditEntry
from bot.domain.money import format_money
from bot.domain.recommendations import IDLE, ORPHANED, SPOT, TIER, UNATTACHED, Recommendation, RecommendationView
from bot.domain.resources import ResourceRef
from bot.render.action_ids import (
    ACTION_APPROVE,
    ACTION_DELETE,
    ACTION_DISMISS,
    ACTION_NOT_MINE,
    ACTION_REJECT,
    ACTION_REMIND,
    ACTION_RESIZE,
    ACTION_SNOOZE,
    ACTION_STOP,
    ACTION_UNDO,
)
from bot.render.common import MAX_BLOCKS, MAX_TEXT_CHARS, clip

MAX_ROWS = 15  # 3 blocks a row stays within Slack's 50


def _verb(action: str) -> str:
    return {"stop": "stop", "start": "start", "resize": "resize", "snooze": "snooze", "delete": "delete",
            "restore": "restore from the snapshot"}.get(action, action)


def _when(at: datetime) -> str:
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{at:%Y-%m-%d %H:%M} UTC>"


def describe_recommendation(rec: Recommendation, currency: str = "USD") -> str:
    ref = ResourceRef.parse(rec.resource_key)
    icon = {IDLE: ":zzz:", TIER: ":floppy_disk:", UNATTACHED: ":wastebasket:", ORPHANED: ":wastebasket:",
            SPOT: ":chart_with_downwards_trend:"}.get(rec.kind, ":arrow_down_small:")
    head = f"{icon} *{clip(rec.name, 80)}* `{rec.resource_type}`"
    if rec.target_type:
        head += f" → `{rec.target_type}`"
    parts = [head, rec.team or "no team", rec.reason]
    if rec.hourly_price is not None and rec.kind == IDLE:
        parts.append(f"{format_money(rec.hourly_price * 24, currency)}/day")
    if rec.monthly_savings and rec.kind == SPOT:  # advice from past runs: what spot would have saved, not a promise
        parts.append(f"spot would have saved ~{format_money(rec.monthly_savings, currency, whole=True)} over the "
                     "last 30 days")
    elif rec.monthly_savings:
        parts.append(f"saves ~{format_money(rec.monthly_savings, currency, whole=True)}/month")
    parts.append(f"{ref.kind} `{ref.id}` · {ref.account}/{ref.region}")
    return f"{parts[0]} — {' · '.join(parts[1:])}"


def outcome_text(req: ActionRequest, currency: str = "USD", saving: Decimal | None = None) -> str:
    who = f"<@{req.approved_by or req.requested_by}>"
    verb = _verb(req.action) + (" (undo)" if req.undo_of else "")
    if req.status == "requested":
        if not req.message_ts:
            return (f":hourglass: <@{req.requested_by}> asked to {verb}; Slack could not be reached to tell the "
                    "approvers yet — costbot tells them as soon as it can")
        return f":hourglass: <@{req.requested_by}> asked to {verb}; waiting for an approver"
    if req.status in ("approved", "executing"):
        return f":gear: {verb} approved by {who}, running…"
    if req.status == "succeeded":
        text = f":white_check_mark: {req.result} — by {who}, {_when(req.created_at)}"
        if saving and not req.undo_of and not (req.result or "").startswith("dry run"):
            text += f" · saves ~{format_money(saving, currency, whole=True)}/month"
        return text
    if req.status == "refused":
        return f":no_entry: {verb} refused: {req.result}"
    if req.status == "failed":
        return f":x: {verb} failed: {req.error} — nothing else was changed"
    if req.status == "rejected":
        return f":no_entry_sign: {verb} rejected by {who}"
    return f":clock3: the {verb} request expired unanswered"


TIER_BUTTONS = {"INTELLIGENT_TIERING": "Add Intelligent-Tiering rule"}  # target -> label (else "Change to X")


def _tier_button(rec: Recommendation) -> ButtonElement:
    """A storage tier change (EBS gp2 -> gp3, an S3 Intelligent-Tiering rule): online, nothing stops; the same
    Resize action underneath."""
    return ButtonElement(
        text=TIER_BUTTONS.get(rec.target_type or "", f"Change to {rec.target_type}"), action_id=ACTION_RESIZE,
        value=rec.resource_key,
        confirm=ConfirmObject(title="Change the tier?", confirm="Change", deny="Cancel", text=_tier_question(rec)))


def _tier_question(rec: Recommendation) -> str:
    if rec.target_type == "INTELLIGENT_TIERING":  # a bucket: a lifecycle rule beside its own, not a type change
        return (f"Add a lifecycle rule to {rec.name} moving its current objects to Intelligent-Tiering? Its "
                "existing rules are kept, it is re-checked first, and Undo removes just this rule.")
    return (f"Change {rec.name} from {rec.resource_type} to {rec.target_type}? It is done online (nothing stops) "
            "and re-checked first.")


def resource_buttons(rec: Recommendation, snooze_days: int = 7) -> ActionsBlock:
    key = rec.resource_key
    if rec.kind == SPOT:  # a past run is not changed: the advice is for the next one
        return ActionsBlock(elements=[
            ButtonElement(text="Remind me on the next run", action_id=ACTION_REMIND, value=key),
            ButtonElement(text="Dismiss", action_id=ACTION_DISMISS, value=key,
                          confirm=ConfirmObject(title="Dismiss?", confirm="Dismiss", deny="Cancel",
                                                text=f"Stop offering spot for {rec.name} and its later runs?")),
            ButtonElement(text="Not mine", action_id=ACTION_NOT_MINE, value=key)],
            block_id=f"rec:{rec.id}" if rec.id is not None else None)
    if rec.kind == ORPHANED:
        final = ButtonElement(
            text="Delete snapshot", action_id=ACTION_DELETE, value=key, style="danger",
            confirm=ConfirmObject(title="Delete this snapshot?", confirm="Delete", deny="Cancel",
                                  text=f"Delete {rec.name}? Its volume is gone; this cannot be undone. It is "
                                       "re-checked first."))
        return ActionsBlock(elements=[final, ButtonElement(text=f"Snooze {snooze_days} d", action_id=ACTION_SNOOZE,
                                                           value=key),
                                      ButtonElement(text="Not mine", action_id=ACTION_NOT_MINE, value=key)],
                            block_id=f"rec:{rec.id}" if rec.id is not None else None)
    if rec.kind == UNATTACHED:
        delete = ButtonElement(
            text="Snapshot & delete", action_id=ACTION_DELETE, value=key, style="danger",
            confirm=ConfirmObject(title="Snapshot and delete?", confirm="Snapshot & delete", deny="Cancel",
                                  text=f"Snapshot {rec.name} ({rec.resource_type}), wait for the snapshot, then "
                                       "delete the volume? It is re-checked first; Undo restores it from the "
                                       "snapshot."))
        return ActionsBlock(elements=[delete, ButtonElement(text=f"Snooze {snooze_days} d", action_id=ACTION_SNOOZE,
                                                            value=key),
                                      ButtonElement(text="Not mine", action_id=ACTION_NOT_MINE, value=key)],
                            block_id=f"rec:{rec.id}" if rec.id is not None else None)
    if rec.kind == TIER and rec.target_type:
        tier: list[ButtonElement] = [_tier_button(rec),
                                     ButtonElement(text=f"Snooze {snooze_days} d", action_id=ACTION_SNOOZE, value=key),
                                     ButtonElement(text="Not mine", action_id=ACTION_NOT_MINE, value=key)]
        return ActionsBlock(elements=tier, block_id=f"rec:{rec.id}" if rec.id is not None else None)
    buttons = [ButtonElement(
        text="Stop", action_id=ACTION_STOP, value=key, style="danger",
        confirm=ConfirmObject(title="Stop this resource?", confirm="Stop", deny="Cancel",
                              text=f"Stop {rec.name} ({rec.resource_type})? It is re-checked first and can be "
                                   "undone for a day."))]
    if rec.target_type:
        buttons.append(ButtonElement(
            text=f"Resize to {rec.target_type}", action_id=ACTION_RESIZE, value=key,
            confirm=ConfirmObject(title="Resize?", confirm="Resize", deny="Cancel",
                                  text=f"Move {rec.name} from {rec.resource_type} to {rec.target_type}? A running "
                                       "instance is stopped, changed and started again.")))
    buttons.append(ButtonElement(text=f"Snooze {snooze_days} d", action_id=ACTION_SNOOZE, value=key))
    buttons.append(ButtonElement(text="Not mine", action_id=ACTION_NOT_MINE, value=key))
    # the block id names the finding that offers these buttons: a click is judged against it
    return ActionsBlock(elements=buttons, block_id=f"rec:{rec.id}" if rec.id is not None else None)


def recommendations_blocks(team: str | None, rows: Sequence[RecommendationView], currency: str = "USD",
                           snooze_days: int = 7) -> list[Block]:
    total = sum((r.recommendation.monthly_savings or Decimal(0) for r in rows), Decimal(0))
    blocks: list[Block] = [
        HeaderBlock(text=clip(f"Ways to save · {team or 'no owner'}", 150)),
        ContextBlock(elements=[MarkdownTextObject(
            text=f"{len(rows)} resource{'s' if len(rows) != 1 else ''} · ~{format_money(total, currency, whole=True)}"
                 "/month waiting · nothing is changed without an approver")]),
    ]
    if not rows:
        blocks.append(SectionBlock(text=MarkdownTextObject(
            text="Nothing to act on is open. Scans run every few hours (`costbot scan` runs one now).")))
    for row in rows[:MAX_ROWS]:
        rec, req = row.recommendation, row.request
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(describe_recommendation(rec, currency),
                                                                      MAX_TEXT_CHARS))))
        open_for_action = req is None or req.status in ("refused", "failed", "rejected", "expired")
        if req is not None and not (req.status == "succeeded" and req.undo_of and rec.status == "open"):
            blocks.append(ContextBlock(elements=[MarkdownTextObject(
                text=clip(outcome_text(req, currency, rec.monthly_savings), MAX_TEXT_CHARS))]))
        if row.undo_until is not None and req is not None:
            blocks.append(ActionsBlock(elements=[ButtonElement(
                text="Undo", action_id=ACTION_UNDO, value=str(req.id),
                confirm=ConfirmObject(title="Undo?", confirm="Undo", deny="Cancel",
                                      text=f"Undo: {_verb(req.action)} {rec.name} back to how it was?"))]))
        elif open_for_action and rec.status == "open":
            blocks.append(resource_buttons(rec, snooze_days))
        elif rec.status == "closed" and rec.close_reason and (req is None or req.status != "succeeded"):
            blocks.append(ContextBlock(elements=[MarkdownTextObject(
                text=clip(f":white_circle: Closed: {rec.close_reason}", MAX_TEXT_CHARS))]))
    if len(rows) > MAX_ROWS:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text=f"…and {len(rows) - MAX_ROWS} more: `/cost idle {team or ''}`".strip())]))
    return blocks[:MAX_BLOCKS]


def approval_blocks(req: ActionRequest, rec: Recommendation | None, approvers: Sequence[str],
                    currency: str = "USD") -> list[Block]:
    name = rec.name if rec else ResourceRef.parse(req.resource_key).id
    what = _verb(req.action)
    if req.action == "resize":
        what += f" from `{req.params.get('from')}` to `{req.params.get('to')}`"
    saving = f" — saves ~{format_money(rec.monthly_savings, currency, whole=True)}/month" if rec and \
        rec.monthly_savings and not req.undo_of else ""
    who = " ".join(f"<@{a}>" for a in approvers) or "an admin"
    text = f":raised_hand: <@{req.requested_by}> asks to *{what}* *{clip(name, 80)}*{saving}."
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=clip(text, MAX_TEXT_CHARS)))]
    if req.status == "requested":
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text=f"{who}: only you can decide · expires {_when(req.expires_at)}")]))
        blocks.append(ActionsBlock(elements=[
            ButtonElement(text="Approve", action_id=ACTION_APPROVE, value=str(req.id), style="primary",
                          confirm=ConfirmObject(title="Approve?", confirm="Approve", deny="Cancel",
                                                text=f"{what} {name} now? It is re-checked against live state "
                                                     "first.")),
            ButtonElement(text="Reject", action_id=ACTION_REJECT, value=str(req.id)),
        ]))
    else:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text=clip(outcome_text(req, currency, rec.monthly_savings if rec else None), MAX_TEXT_CHARS))]))
    return blocks


def audit_blocks(entries: Sequence[AuditEntry]) -> list[Block]:
    if not entries:
        return [SectionBlock(text=MarkdownTextObject(text="No actions yet."))]
    lines = ["*Recent actions*"]
    for e in entries:
        ref = ResourceRef.parse(e.resource_key) if e.resource_key.count("|") == 4 else None
        target = ref.id if ref else e.resource_key
        dry = " _(dry run)_" if e.dry_run else ""
        detail = f" — {e.error}" if e.error else (f" ({e.before} → {e.after})" if e.before and e.after else "")
        lines.append(f"• {_when(e.at)} <@{e.actor}> {e.action} `{target}`: *{e.result}*{dry}{detail}")
    return [SectionBlock(text=MarkdownTextObject(text=clip("\n".join(lines), MAX_TEXT_CHARS)))]
