"""What each billing source holds, in Block Kit (`/cost sources`); the terminal's table is in terminal.py."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, HeaderBlock, MarkdownTextObject, SectionBlock

from bot.domain.ingest import SourceHolding
from bot.domain.money import format_money
from bot.render.common import MAX_BLOCKS, MAX_TEXT_CHARS, clip


def months_text(holding: SourceHolding) -> str:
    months = holding.months
    if not months:
        return "–"
    if len(months) == 1:
        return f"{months[0]:%Y-%m}"
    return f"{months[0]:%Y-%m} – {months[-1]:%Y-%m} ({len(months)} months)"


def accounts_text(holding: SourceHolding) -> str:
    shown = [a or "(none)" for a in holding.accounts[:4]]
    return ", ".join(shown) + (f" +{len(holding.accounts) - 4}" if len(holding.accounts) > 4 else "") or "–"


def when_text(holding: SourceHolding) -> str:
    parts = []
    if holding.last_loaded is not None:
        parts.append(f"loaded {holding.last_loaded:%Y-%m-%d %H:%M} UTC")
    if holding.last_sync is not None:
        parts.append(f"synced {holding.last_sync:%Y-%m-%d %H:%M} UTC")
    return ", ".join(parts) or "never loaded"


def sources_blocks(holdings: Sequence[SourceHolding], currency: str) -> list[Block]:
    if not holdings:
        return [SectionBlock(text=MarkdownTextObject(text="No billing data yet: `costbot ingest PATH` or `sources:` "
                                                         "in costbot.yml."))]
    blocks: list[Block] = [HeaderBlock(text="Billing sources")]
    for h in holdings[: MAX_BLOCKS - 1]:
        origin = " _(costbot.yml)_" if h.configured else ""
        text = (f"*{clip(h.name, 80)}*{origin}: {h.rows:,} rows, {format_money(h.effective_cost, currency)} "
                f"(billed {format_money(h.billed_cost, currency)})\n"
                f"accounts {accounts_text(h)} · months {months_text(h)} · {when_text(h)}")
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(text, MAX_TEXT_CHARS))))
    return blocks
