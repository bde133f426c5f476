"""Tag compliance: its lines (shared by digests and the terminal) and its Slack answer."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    Block,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.domain.compliance import TagCompliance
from bot.domain.money import format_money
from bot.render.common import MAX_TEXT_CHARS, clip


def compliance_lines(report: TagCompliance) -> list[str]:
    cur = report.currency
    trend = report.untagged_share - report.previous_share
    lines = [f"Untagged: *{format_money(report.untagged, cur)}* of {format_money(report.total, cur)} "
             f"(*{report.untagged_share:.1f}%*, {'+' if trend >= 0 else ''}{trend:.1f} points vs the period before)"]
    if report.top_services:
        lines.append("Top untagged services: " + ", ".join(
            f"{clip(k, 50)} {format_money(c, cur, whole=True)}" for k, c in report.top_services))
    if report.top_resources:
        lines.append("Top untagged resources: " + ", ".join(
            f"{clip(g.label, 50)} {format_money(g.cost, cur, whole=True)}" for g in report.top_resources))
    if report.coverage_by_account:
        lines.append("Team-tag coverage by account: " + ", ".join(
            f"{a} {p:.0f}%" for a, p in report.coverage_by_account))
    lines.append("Coverage by tag: " + ", ".join(f"{k} {v:.0f}%" for k, v in report.coverage_by_key.items()))
    return lines


def compliance_blocks(report: TagCompliance) -> list[Block]:
    return [HeaderBlock(text=clip(f"Tag compliance · {report.period.describe()}", 150)),
            SectionBlock(text=MarkdownTextObject(text=clip("\n".join(compliance_lines(report)), MAX_TEXT_CHARS)))]
