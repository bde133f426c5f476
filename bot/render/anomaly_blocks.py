"""Anomalies in Block Kit: the alert with its buttons (Acknowledge, Show details, Stop), and the list."""

from __future__ import annotations

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

from bot.domain.anomalies import Anomaly, AnomalyFindings
from bot.domain.money import format_money
from bot.render.action_ids import ACTION_ACKNOWLEDGE, ACTION_DETAILS, ACTION_STOP
from bot.render.common import MAX_BLOCKS, MAX_TEXT_CHARS, clip


def anomaly_text(a: Anomaly, currency: str = "USD") -> str:
    ratio = f"{a.ratio:.1f}×" if a.ratio else "new"
    lines = [f":rotating_light: *{a.team}* · *{clip(a.service, 80)}* on {a.day:%a %b %d}: "
             f"*{format_money(a.actual, currency)}* against a usual {format_money(a.baseline, currency)} "
             f"({ratio}, +{format_money(a.increase, currency)})"]
    for c in a.causes:
        usage = f" ({c.usage_type})" if c.usage_type else ""
        owner = f", owner {c.owner}" if c.owner else ""
        lines.append(f"• *{clip(c.name, 60)}*{usage}: {format_money(c.actual, currency)} vs usual "
                     f"{format_money(c.usual, currency)} (+{format_money(c.increase, currency)}, "
                     f"{format_money(c.per_hour, currency)}/h{owner})")
    return "\n".join(lines)


def anomaly_blocks(a: Anomaly, actionable: dict[str, str], currency: str = "USD",
                   acknowledged_by: str | None = None) -> list[Block]:
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=clip(anomaly_text(a, currency), MAX_TEXT_CHARS)))]
    if acknowledged_by or a.status == "acknowledged":
        who = f" by <@{acknowledged_by}>" if acknowledged_by else ""
        note = f":white_check_mark: Acknowledged{who}: expected"
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=note)]))
        return blocks
    buttons = [ButtonElement(text="Acknowledge (expected)", action_id=ACTION_ACKNOWLEDGE, value=str(a.id)),
               ButtonElement(text="Show details", action_id=ACTION_DETAILS, value=str(a.id))]
    for c in a.causes:
        key = actionable.get(c.resource_id)
        if key:
            buttons.append(ButtonElement(
                text=clip(f"Stop {c.name}", 75), action_id=ACTION_STOP, value=key, style="danger",
                confirm=ConfirmObject(title="Stop this resource?", confirm="Stop", deny="Cancel",
                                      text=f"Stop {c.name}? Approval rules apply and it is re-checked first.")))
    blocks.append(ActionsBlock(elements=buttons[:5], block_id=f"anomaly:{a.id}" if a.id is not None else None))
    return blocks


def findings_title(found: AnomalyFindings) -> str:
    return f"Anomalies · {found.scope_label} · {found.period.describe()}"


def anomalies_list_blocks(found: AnomalyFindings, currency: str = "USD") -> list[Block]:
    if not found.anomalies:
        return [SectionBlock(text=MarkdownTextObject(
            text=clip(f"No anomalies for {found.scope_label} in {found.period.describe()}.", MAX_TEXT_CHARS)))]
    blocks: list[Block] = [HeaderBlock(text=clip(findings_title(found), 150))]
    for a in found.anomalies[: MAX_BLOCKS - 1]:
        status = " _(acknowledged)_" if a.status == "acknowledged" else ""
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(anomaly_text(a, currency) + status,
                                                                     MAX_TEXT_CHARS))))
    return blocks
