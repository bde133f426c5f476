"""Budgets in Block Kit: the status lines (shared with the terminal), `/cost budget`, budget alerts."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from slack_sdk.models.blocks import Block, DividerBlock, HeaderBlock, MarkdownTextObject, SectionBlock

from bot.domain.budgets import BudgetStatus, Threshold
from bot.domain.money import ZERO, format_money, to_cents
from bot.render.common import MAX_BLOCKS, MAX_TEXT_CHARS, clip


def budget_lines(status: BudgetStatus) -> list[str]:
    cur = status.currency
    lines = [f"Month to date *{format_money(status.month_to_date, cur)}* of "
             f"{format_money(status.budget or ZERO, cur, whole=True)} ({status.used_percent:.0f}%) through "
             f"{status.day:%b %d}",
             f"Month-end forecast {format_money(status.forecast, cur, whole=True)} "
             f"({status.forecast_percent:.0f}% of the budget, weekday-aware)"]
    if status.run_out is not None:
        verb = "ran out" if status.run_out <= status.day else "runs out"
        lines.append(f":warning: At this pace the budget {verb} on *{status.run_out:%b %d}*")
    else:
        lines.append("At this pace the budget lasts the month")
    if status.drivers:
        lines.append("Growing most this month: " + ", ".join(
            f"{d.dimension} *{clip(d.label, 60)}* +{format_money(d.change, cur, whole=True)}" for d in status.drivers
            if to_cents(d.change) >= Decimal("0.5")))  # "+$0" says nothing
    return lines


def budget_blocks(status: BudgetStatus) -> list[Block]:
    return [HeaderBlock(text=clip(f"Budget · {status.scope} · {status.month:%B %Y}", 150)),
            SectionBlock(text=MarkdownTextObject(text=clip("\n".join(budget_lines(status)), MAX_TEXT_CHARS)))]


def budget_alert_blocks(status: BudgetStatus, threshold: Threshold) -> list[Block]:
    icon = ":red_circle:" if threshold.percent >= 100 else ":large_yellow_circle:"
    return [SectionBlock(text=MarkdownTextObject(text=clip(
        f"{icon} *{status.scope}* has reached *{threshold.label()}* for {status.month:%B}\n"
        + "\n".join(budget_lines(status)), MAX_TEXT_CHARS)))]


def budgets_blocks(statuses: Sequence[BudgetStatus]) -> list[Block]:
    """Several scopes' budgets in one message (`/cost budget` with no scope)."""
    if not statuses:
        return [SectionBlock(text=MarkdownTextObject(
            text="No budgets yet. An admin can set one with `/cost budget set team-ml 25000`."))]
    if len(statuses) == 1:
        return budget_blocks(statuses[0])
    out: list[Block] = [HeaderBlock(text=clip(f"Budgets · {statuses[0].month:%B %Y}", 150))]
    for status in statuses[: (MAX_BLOCKS - 1) // 2]:
        out.append(DividerBlock())
        out.append(SectionBlock(text=MarkdownTextObject(text=clip(
            f"*{status.scope}*\n" + "\n".join(budget_lines(status)), MAX_TEXT_CHARS))))
    return out


def budget_change_text(scope: str, before: Decimal | None, after: Decimal, currency: str) -> str:
    was = format_money(before, currency, whole=True) if before is not None else "none"
    return f"*{scope}*'s monthly budget is now *{format_money(after, currency, whole=True)}* (was {was})"


def budget_change_blocks(scope: str, before: Decimal | None, after: Decimal, user: str,
                         currency: str = "USD") -> list[Block]:
    """What a team's channel is told when its budget changes."""
    return [SectionBlock(text=MarkdownTextObject(text=clip(
        f":moneybag: <@{user}> changed the budget: {budget_change_text(scope, before, after, currency)}. "
        f"`/cost budget {scope}` shows the month against it.", MAX_TEXT_CHARS)))]
