"""App Home: the user's teams at a glance."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.domain.money import format_money
from bot.domain.overview import TeamOverview
from bot.render.action_ids import ACTION_HOME_ASK
from bot.render.common import MAX_BLOCKS, MAX_BUTTON_VALUE, MAX_TEXT_CHARS, clip

HOME_QUESTIONS = (("Last week", "last-week"), ("Month to date by service", "mtd by service"),
                  ("Last 30 days by project", "last-30d by project"))


def home_view(overviews: Sequence[TeamOverview]) -> View:
    """App Home: per team of the user, month to date vs budget, top services, and common questions."""
    blocks: list[Block] = [HeaderBlock(text="Your cloud spend")]
    if not overviews:
        blocks.append(SectionBlock(text=MarkdownTextObject(
            text="You are not in a team in costbot's config yet. Ask anything with `/cost`, "
                 "e.g. `/cost last-month by team`.")))
    for ov in overviews[:8]:
        mtd = format_money(ov.month_to_date, ov.currency)
        if ov.budget:
            pct = ov.month_to_date / ov.budget * 100
            icon = ":red_circle:" if pct >= 100 else (":large_yellow_circle:" if pct >= 80 else ":large_green_circle:")
            budget = f"{icon} {pct:.0f}% of the {format_money(ov.budget, ov.currency, whole=True)} monthly budget"
        else:
            budget = "no budget set"
        through = f" (through {ov.data_through:%b %d})" if ov.data_through else ""
        lines = [f"*{ov.team}* — month to date *{mtd}*{through} · {budget}"]
        if ov.forecast is not None:
            lines.append(f"Month-end forecast (weekday-aware): {format_money(ov.forecast, ov.currency, whole=True)}")
        if ov.top_services:
            top = ", ".join(f"{g.key} {format_money(g.cost, ov.currency, whole=True)}" for g in ov.top_services)
            lines.append(f"Top services: {top}")
        if ov.shared_clusters:
            shares = ", ".join(f"{g.key} {format_money(g.cost, ov.currency, whole=True)}" for g in ov.shared_clusters)
            lines.append(f":ship: Its share of shared clusters (split by the bill): {shares}")
        if ov.open_recommendations:
            lines.append(f":bulb: {ov.open_recommendations} open recommendations · "
                         f"~{format_money(ov.savings_waiting, ov.currency, whole=True)}/month waiting — `/cost idle`")
        blocks.append(DividerBlock())
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip("\n".join(lines), MAX_TEXT_CHARS))))
        blocks.append(ActionsBlock(elements=[
            ButtonElement(text=label, action_id=f"{ACTION_HOME_ASK}_{i}",
                          value=clip(f"{ov.team} {query}", MAX_BUTTON_VALUE))
            for i, (label, query) in enumerate(HOME_QUESTIONS)
        ]))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text="Type `/cost help` in any channel for more.")]))
    return View(type="home", blocks=blocks[:MAX_BLOCKS])
