"""Block Kit for answers to `/cost`: total and change, what drove it, breakdown, untagged share, buttons; the
shared-cost explanation; help."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.domain.answers import CostAnswer, Group, pin_question
from bot.domain.changes import Change
from bot.domain.money import ZERO, format_money, to_cents
from bot.domain.query import EXAMPLES, QUICK_EXAMPLES, help_sections
from bot.domain.spec import OTHER
from bot.render.action_ids import ACTION_CHART, ACTION_HELP_ALL, ACTION_SHARE, ACTION_SHOW_IDS, ACTION_SHOW_SHARED
from bot.render.answer_notes import comparison_note, coverage_notes
from bot.render.common import MAX_BLOCKS, MAX_BREAKDOWN_LINES, MAX_BUTTON_VALUE, MAX_HEADER_CHARS, MAX_TEXT_CHARS, clip


def change_line(answer: CostAnswer) -> str:
    if not answer.comparable:
        return (f"the comparison period had {format_money(answer.previous_total, answer.currency)}: not a "
                "like-for-like change")
    if answer.total == 0 and answer.previous_total == 0:
        return "no spend in either period"
    if to_cents(answer.change) == 0:
        return f"➖ no change vs previous period {format_money(answer.previous_total, answer.currency)}"
    pct = answer.change_percent
    arrow = ":arrow_up_small:" if answer.change > 0 else (":arrow_down_small:" if answer.change < 0 else "➖")
    sign = "+" if answer.change >= 0 else "-"
    pct_text = f"{abs(pct):.1f}%" if pct is not None else "new spend"
    return (f"{arrow} {pct_text} ({sign}{format_money(abs(answer.change), answer.currency)}) vs previous "
            f"period {format_money(answer.previous_total, answer.currency)}")


def breakdown_lines(groups: Sequence[Group], total: Decimal, currency: str,
                    max_lines: int = MAX_BREAKDOWN_LINES, max_chars: int = MAX_TEXT_CHARS) -> list[str]:
    """One line per group; beyond `max_lines` or `max_chars` the rest is summed into one "(other)" line."""
    lines: list[str] = []
    used = 0
    rest = ZERO
    rest_count = 0
    items = list(groups)
    for i, g in enumerate(items):
        if to_cents(g.cost) == 0:  # "$0.00" rows say nothing (an amortized fee, a credit netted out)
            continue
        share = f" ({g.cost / total * 100:.1f}%)" if total else ""
        line = f"• *{clip(g.label, 80)}* — {format_money(g.cost, currency)}{share}"
        room_for_other = 120 if i < len(items) - 1 else 0
        if len(lines) >= max_lines or used + len(line) + 1 + room_for_other > max_chars:
            rest += g.cost
            rest_count += 1
            continue
        lines.append(line)
        used += len(line) + 1
    if rest_count:
        share = f" ({rest / total * 100:.1f}%)" if total else ""
        lines.append(f"• *{OTHER}* ({rest_count} more) — {format_money(rest, currency)}{share}")
    return lines


def signed_money(amount: Decimal, currency: str) -> str:
    return ("+" if amount >= 0 else "−") + format_money(abs(amount), currency)


def mover_text(change: Change, currency: str) -> str:
    pct = change.change_percent
    share = f" ({'+' if pct >= 0 else '−'}{abs(pct):.{1 if abs(pct) < 10 else 0}f}%)" if pct is not None else " (new)"
    return f"*{clip(change.key, 60)}* {signed_money(change.change, currency)}{share}"


def drivers_lines(answer: CostAnswer) -> list[str]:
    """What a total without `by` is made of, and why it changed: its largest parts, the parts that moved most."""
    lines: list[str] = []
    if answer.drivers:
        what = {"team": "teams", "service": "services"}.get(answer.drivers_by or "", answer.drivers_by or "parts")
        lines.append(f"*Top {what}*")
        lines += [f"• {clip(g.key, 80)} — {format_money(g.cost, answer.currency)}"
                  + (f" ({g.cost / answer.total * 100:.0f}%)" if answer.total else "") for g in answer.drivers]
    if answer.movers:
        lines.append("*Why it changed:* " + ", ".join(mover_text(m, answer.currency) for m in answer.movers))
    return lines


def button_value(answer: CostAnswer, query_text: str) -> str:
    """The question and the day it was asked, within Slack's limit for a button's value."""
    text = query_text.strip() or " "
    if answer.asked_on is None:
        return clip(text, MAX_BUTTON_VALUE)
    value = pin_question(text, answer.asked_on)
    while len(value) > MAX_BUTTON_VALUE:
        text = text[: len(text) - (len(value) - MAX_BUTTON_VALUE) - 1]
        value = pin_question(text, answer.asked_on)
    return value


def answer_blocks(answer: CostAnswer, query_text: str, shared_by: str | None = None,
                  buttons: bool = True) -> list[Block]:
    """The answer to `/cost`: header, total and change, what drove it (or the breakdown), the untagged share
    where it can be non-zero, notes on the period's coverage, context, buttons (carrying the question and the
    day it was asked)."""
    answer = answer.in_cents()
    blocks: list[Block] = [
        HeaderBlock(text=clip(f"{answer.scope_label} · {answer.period.label}", MAX_HEADER_CHARS)),
        SectionBlock(
            text=MarkdownTextObject(
                text=f"*{format_money(answer.total, answer.currency)}* "
                f"{answer.period.describe().removeprefix(answer.period.label).strip()}\n{change_line(answer)}"
            )
        ),
    ]
    explained = drivers_lines(answer)
    if explained:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip("\n".join(explained), MAX_TEXT_CHARS))))
    if answer.dimension is not None:
        groups = list(answer.groups)
        if answer.dimension in ("day", "week", "month"):
            groups.sort(key=lambda g: g.key)
        if answer.group_split is not None:  # allocation: show each team's direct and shared parts
            split = answer.group_split
            groups = [Group(f"{g.label}: direct {format_money(split[g.key][0], answer.currency)} + shared "
                            f"{format_money(split[g.key][1], answer.currency)} =", g.cost)
                      if g.key in split else g for g in groups]
        lines = breakdown_lines(groups, answer.total, answer.currency)
        title = f"*By {answer.dimension}*\n"
        body = "\n".join(lines) if lines else "_no spend in this period_"
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(title + body, MAX_TEXT_CHARS))))
    share = answer.untagged_share
    untagged = format_money(answer.untagged_cost, answer.currency)
    through = answer.data_through.isoformat() if answer.data_through else "no data yet"
    context = [f"{answer.metric} · {answer.currency} · billing data through {through}"]
    if answer.untagged_applies:
        context.insert(0, f":label: Untagged: {untagged}" + (f" ({share:.1f}% of total)" if share is not None
                                                             else ""))
    context[:0] = [f":calendar: {note}" for note in filter(None, [comparison_note(answer), *coverage_notes(answer)])]
    if answer.shared_cost is not None and answer.direct_cost is not None:
        context.insert(0, f":handshake: includes {format_money(answer.shared_cost, answer.currency)} of shared costs "
                          f"(direct {format_money(answer.direct_cost, answer.currency)}); add `direct` for the team's "
                          "own cost")
    if shared_by:
        context.append(f"shared by <@{shared_by}>")
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(c, MAX_TEXT_CHARS)) for c in context]))
    if buttons:
        value = button_value(answer, query_text)
        elements = [ButtonElement(text="Chart", action_id=ACTION_CHART, value=value)]
        if answer.shared_cost:
            elements.append(ButtonElement(text="Show shared", action_id=ACTION_SHOW_SHARED, value=value))
        if any(g.name for g in answer.groups):
            elements.append(ButtonElement(text="Resource ids", action_id=ACTION_SHOW_IDS, value=value))
        if shared_by is None:
            elements.insert(0, ButtonElement(text="Share in channel", action_id=ACTION_SHARE, value=value))
        blocks.append(ActionsBlock(elements=elements))
    return blocks[:MAX_BLOCKS]


def answer_fallback_text(answer: CostAnswer) -> str:
    answer = answer.in_cents()
    return (f"{answer.scope_label} {answer.period.label}: {format_money(answer.total, answer.currency)} "
            f"({change_line(answer)})")


def resource_ids_blocks(answer: CostAnswer) -> list[Block]:
    """The detail view of a `by resource` answer: each name with the full id it stands for."""
    answer = answer.in_cents()
    lines = [f"• *{clip(g.label, 80)}* — `{g.key}` — {format_money(g.cost, answer.currency)}"
             for g in answer.groups if g.name]
    blocks: list[Block] = [HeaderBlock(text=clip(f"Resource ids · {answer.scope_label} · {answer.period.label}",
                                                 MAX_HEADER_CHARS))]
    chunk: list[str] = []
    for line in lines:
        if chunk and len("\n".join([*chunk, line])) > MAX_TEXT_CHARS:
            blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(chunk))))
            chunk = []
        chunk.append(clip(line, MAX_TEXT_CHARS))
    if chunk:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(chunk))))
    return blocks[:MAX_BLOCKS]


def help_blocks(teams: Sequence[str], command: str = "/cost") -> list[Block]:
    """Short help: the five most useful questions, the teams, and a button (or `help all`) for the rest."""
    lines = [f"`{command} [SCOPE] [PERIOD] [by DIMENSION] [top N]` — words in any order. For example:"]
    lines += [f"• `{command} {e}` — {what}" for e, what in QUICK_EXAMPLES]
    blocks: list[Block] = [HeaderBlock(text="Asking costbot"),
                           SectionBlock(text=MarkdownTextObject(text=clip("\n".join(lines), MAX_TEXT_CHARS)))]
    if teams:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text=clip("Teams: " + ", ".join(f"`{t}`" for t in teams), MAX_TEXT_CHARS))]))
    blocks.append(ActionsBlock(elements=[ButtonElement(text="All commands", action_id=ACTION_HELP_ALL, value="all")]))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"or `{command} help all`")]))
    return blocks


def full_help_blocks(teams: Sequence[str], command: str = "/cost") -> list[Block]:
    """`help all`: the whole grammar and every command, from the grammar tables."""
    blocks: list[Block] = [
        HeaderBlock(text="Everything you can ask costbot"),
        SectionBlock(text=MarkdownTextObject(
            text=f"`{command} [SCOPE ...] [PERIOD] [by DIMENSION] [top N] [billed]` — words in any order.")),
    ]
    for title, items in help_sections():
        lines = [f"*{title}*"] + [f"• `{key}` — {desc}" for key, desc in items]
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip("\n".join(lines), MAX_TEXT_CHARS))))
    if teams:
        blocks.append(SectionBlock(text=MarkdownTextObject(
            text=clip("*Teams:* " + ", ".join(f"`{t}`" for t in teams), MAX_TEXT_CHARS))))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(
        text=clip("Examples: " + " · ".join(f"`{command} {e}`" for e in EXAMPLES), MAX_TEXT_CHARS))]))
    return blocks


def shared_explanation_blocks(team: str, period_label: str, parts: Sequence[tuple[str, Decimal]],
                              currency: str = "USD") -> list[Block]:
    """A team's shared cost, rule by rule."""
    if not parts:
        return [SectionBlock(text=MarkdownTextObject(text=f"*{team}* has no shared costs in {period_label}."))]
    total = sum((c for _, c in parts), ZERO)
    lines = [f"*{team}*'s shared costs in {period_label}: {format_money(total, currency)}"]
    lines += [f"• rule *{clip(rule, 80)}*: {format_money(cost, currency)}" for rule, cost in parts]
    return [SectionBlock(text=MarkdownTextObject(text=clip("\n".join(lines), MAX_TEXT_CHARS)))]
