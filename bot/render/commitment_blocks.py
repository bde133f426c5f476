"""Contract commitments in Block Kit (`/cost commitments`); the terminal's table is in terminal.py."""

from __future__ import annotations

from decimal import Decimal

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, MarkdownTextObject, SectionBlock

from bot.domain.commitments import Commitment, CommitmentReport
from bot.domain.money import format_money
from bot.render.common import MAX_BLOCKS, MAX_TEXT_CHARS, clip

EMPTY = ("No contract commitments yet: they come from a FOCUS 1.3 export's Contract Commitment dataset "
         "(`costbot ingest` the export folder).")


def used_text(c: Commitment, report: CommitmentReport, currency: str) -> str:
    """Used so far against what has fallen due by the billing data's last day."""
    cur = c.currency or currency

    def amount(value: Decimal) -> str:
        return f"{value:,.0f} {c.unit or ''}".strip() if c.by_quantity else format_money(value, cur)

    used = c.used_quantity if c.by_quantity else c.used
    if report.until is None:
        return f"{amount(used)} used"
    share = c.used_share(report.until)
    shown = f" ({share:.0f}%)" if share is not None else ""
    return f"{amount(used)} used of {amount(c.due_by(report.until))} due so far{shown}"


def term_text(c: Commitment, report: CommitmentReport) -> str:
    left = c.days_left(report.until) if report.until else None
    ends = f"until {c.end:%Y-%m-%d}"
    if left == 0:
        return f"{c.start:%Y-%m-%d} – {c.end:%Y-%m-%d}, ended"
    if left is not None and c.expiring(report.until):  # type: ignore[arg-type]
        return f"{ends} — *expires in {left} days*"
    return ends


def commitments_blocks(report: CommitmentReport, currency: str) -> list[Block]:
    if not report.commitments:
        return [SectionBlock(text=MarkdownTextObject(text=EMPTY))]
    blocks: list[Block] = [HeaderBlock(text="Contract commitments")]
    for c in report.commitments[: MAX_BLOCKS - 2]:
        cur = c.currency or currency
        what = clip(c.description or c.id, 120)
        text = (f"*{what}* · {c.kind}{f' ({c.category})' if c.category else ''}\n"
                f"{format_money(c.cost, cur)} committed {term_text(c, report)} · {used_text(c, report, currency)}")
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(text, MAX_TEXT_CHARS))))
    through = report.through.isoformat() if report.through else "no data yet"
    more = len(report.commitments) - (MAX_BLOCKS - 2)
    note = f"billing data through {through}" + (f" · {more} more: `costbot ask commitments`" if more > 0 else "")
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=note)]))
    return blocks
