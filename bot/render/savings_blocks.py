"""Block Kit for `/cost savings [TEAM]`: what the open recommendations save a month, largest first, and the
total. The buttons stay on the recommendations' own messages (`/cost idle`); this is the list to decide from."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, MarkdownTextObject, SectionBlock

from bot.domain.money import format_money
from bot.domain.savings import SavingsRow, SavingsWaiting
from bot.render.common import MAX_HEADER_CHARS, MAX_TEXT_CHARS, clip

MAX_LINES = 40  # more are summed into one "(N more)" line, so the message stays within Slack's limits


def savings_title(result: SavingsWaiting) -> str:
    return f"Savings waiting · {result.team or 'all teams'}"


def savings_line(row: SavingsRow, currency: str, with_team: bool) -> str:
    rec = row.recommendation
    saving = ("saving not known" if row.monthly_savings is None
              else f"{format_money(row.monthly_savings, currency)}/month")
    target = f" → `{rec.target_type}`" if rec.target_type else ""
    team = f" · {rec.team or 'no team'}" if with_team else ""
    return (f"• *{clip(rec.name, 80)}* `{rec.resource_type}`{target} — {saving} · {rec.kind}: "
            f"{clip(rec.reason, 200)}{team}")


def savings_total_text(result: SavingsWaiting, currency: str) -> str:
    count = len(result.rows)
    text = f"Total {format_money(result.total, currency)}/month from {count} open recommendation{'s' * (count != 1)}"
    if result.unknown:
        text += f" ({result.unknown} with no known saving)"
    return text


def savings_blocks(result: SavingsWaiting, currency: str = "USD") -> list[Block]:
    header = HeaderBlock(text=clip(savings_title(result), MAX_HEADER_CHARS))
    if not result.rows:
        return [header, SectionBlock(text=MarkdownTextObject(
            text=f"No open recommendations for {result.team or 'any team'}."))]
    with_team = result.team is None
    lines = [savings_line(r, currency, with_team) for r in result.rows[:MAX_LINES]]
    rest = result.rows[MAX_LINES:]
    if rest:
        more = sum((r.monthly_savings for r in rest if r.monthly_savings is not None), start=result.total * 0)
        lines.append(f"• (other) ({len(rest)} more) — {format_money(more, currency)}/month")
    total = SectionBlock(text=MarkdownTextObject(text=f"*{savings_total_text(result, currency)}*"))
    blocks: list[Block] = [header, total]
    chunk: list[str] = []
    for line in lines:  # one section per ~3,000 characters
        if chunk and len("\n".join([*chunk, line])) > MAX_TEXT_CHARS:
            blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(chunk))))
            chunk = []
        chunk.append(line)
    blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(chunk))))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(
        text="Monthly savings as each finding estimates them. `/cost idle` shows the buttons.")]))
    return blocks
