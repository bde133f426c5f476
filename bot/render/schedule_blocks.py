"""Block Kit for off-hours schedules: the heads-up before a stop (with Keep running tonight, per resource and for
all, and Skip this week) and the report at the stop. Buttons carry a resource key or the heads-up's id; every
block a heads-up offers a button in is named `headsup:ID` so a click says which heads-up it answers."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.domain.schedules import BUSY, KEPT, PLANNED, SKIPPED, HeadsUp, NightReport, NightResource
from bot.render.action_ids import ACTION_SCHEDULE_KEEP, ACTION_SCHEDULE_KEEP_ALL, ACTION_SCHEDULE_SKIP
from bot.render.common import MAX_TEXT_CHARS, clip

MAX_ROWS = 40  # a section each, within Slack's 50 blocks


def headsup_block_id(event_id: int | None, index: int | None = None) -> str:
    return f"headsup:{event_id}" + (f":{index}" if index is not None else "")


def _row_text(row: NightResource) -> str:
    if row.state == PLANNED:
        return f"*{clip(row.name, 80)}* — stops"
    if row.state in (KEPT, SKIPPED):
        return f"*{clip(row.name, 80)}* — keeps running: {row.reason or row.state}"
    return f"*{clip(row.name, 80)}* — {row.state}" + (f": {row.reason}" if row.reason else "")


def heads_up_text(view: HeadsUp) -> str:
    when, back = view.stop_local, view.start_local
    until = f"; the schedule starts them again at {back:%H:%M} on {back:%a %d %b}" if back is not None else ""
    return (f":crescent_moon: *{view.schedule}* stops {len(view.planned)} of {view.team or 'no team'}'s resources "
            f"at {when:%H:%M} ({view.zone}) on {when:%a %d %b}{until}")


def heads_up_blocks(view: HeadsUp) -> list[Block]:
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=clip(heads_up_text(view), MAX_TEXT_CHARS)))]
    for i, row in enumerate(view.rows[:MAX_ROWS]):
        accessory = (ButtonElement(text="Keep running tonight", action_id=ACTION_SCHEDULE_KEEP, value=row.resource_key)
                     if row.state == PLANNED and view.skipped_by is None else None)
        blocks.append(SectionBlock(block_id=headsup_block_id(view.event_id, i),
                                   text=MarkdownTextObject(text=clip(_row_text(row), MAX_TEXT_CHARS)),
                                   accessory=accessory))
    hidden = len(view.rows) - MAX_ROWS
    if hidden > 0:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"…and {hidden} more")]))
    if view.skipped_by is not None:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text=f":fast_forward: <@{view.skipped_by}> skipped this week: nothing stops until Monday")]))
    elif view.planned:
        blocks.append(ActionsBlock(block_id=headsup_block_id(view.event_id), elements=[
            ButtonElement(text="Keep all running tonight", action_id=ACTION_SCHEDULE_KEEP_ALL,
                          value=str(view.event_id)),
            ButtonElement(text="Skip this week", action_id=ACTION_SCHEDULE_SKIP, value=str(view.event_id)),
        ]))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(
        text="Anything busy at the stop (GPU or CPU above the idle rule) keeps running. The team's members and "
             "approvers, and admins, may keep resources running. The morning start brings back what this stopped.")]))
    return blocks


def night_report_text(report: NightReport) -> str:
    verb = "would have stopped (dry run)" if report.dry_run else "stopped"
    return (f":crescent_moon: *{report.schedule}* {verb} {len(report.stopped)} of {report.team or 'no team'}'s "
            f"resources for the night of {report.night:%a %d %b}")


def night_report_blocks(report: NightReport) -> list[Block]:
    lines = [f"• *{clip(r.name, 80)}*" for r in report.stopped]
    kept = [f"• *{clip(r.name, 80)}* — " + {BUSY: "busy", KEPT: "kept", SKIPPED: "skipped"}.get(r.state, r.state)
            + (f": {r.reason}" if r.reason else "") for r in report.running]
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=clip(night_report_text(report), MAX_TEXT_CHARS)))]
    if lines:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip("\n".join(lines), MAX_TEXT_CHARS))))
    if kept:
        blocks.append(SectionBlock(text=MarkdownTextObject(
            text=clip("*Still running:*\n" + "\n".join(kept), MAX_TEXT_CHARS))))
    if report.stopped and not report.dry_run:
        back = report.start_local
        when = f"at {back:%H:%M} on {back:%a %d %b}" if back is not None else "in the morning"
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text=f"The schedule starts these again {when} (only these).")]))
    return blocks

