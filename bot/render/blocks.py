"""Block Kit payloads built with slack_sdk.models, so Slack's limits are checked before sending.

Pure: domain objects in, blocks out. Limits the models do not enforce (50 blocks, 10 fields, 2,000 chars per
field, 3,000 per text) are kept by summarizing into "(other)", never by failing.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

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

from bot.domain.answers import CostAnswer, Group
from bot.domain.compliance import TagCompliance
from bot.domain.digest import Digest
from bot.domain.errors import CostbotError, QueryError
from bot.domain.money import ZERO, format_money
from bot.domain.overview import TeamOverview
from bot.domain.query import EXAMPLES, GRAMMAR_HELP
from bot.domain.spec import OTHER
from bot.domain.subscriptions import Subscription

# stable action_ids (DESIGN.md): handlers match on these
ACTION_STOP = "costbot_stop"
ACTION_RESIZE = "costbot_resize"
ACTION_SNOOZE = "costbot_snooze"
ACTION_NOT_MINE = "costbot_not_mine"
ACTION_PROTECT = "costbot_protect"
ACTION_APPROVE = "costbot_approve"
ACTION_REJECT = "costbot_reject"
ACTION_UNDO = "costbot_undo"
ACTION_SHARE = "costbot_share"
ACTION_CHART = "costbot_chart"
ACTION_HOME_ASK = "costbot_home_ask"
ACTION_SHOW_SHARED = "costbot_show_shared"

MAX_BLOCKS = 50
MAX_FIELDS = 10
MAX_FIELD_CHARS = 2000
MAX_TEXT_CHARS = 3000
MAX_HEADER_CHARS = 150
MAX_BUTTON_VALUE = 2000
MAX_BREAKDOWN_LINES = 15
MAX_SCOPE_CHARS = 200  # a scope as the user typed it, quoted back in a confirmation


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def change_line(answer: CostAnswer) -> str:
    if answer.total == 0 and answer.previous_total == 0:
        return "no spend in either period"
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
        share = f" ({g.cost / total * 100:.1f}%)" if total else ""
        line = f"• *{clip(g.key, 80)}* — {format_money(g.cost, currency)}{share}"
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


def answer_blocks(answer: CostAnswer, query_text: str, shared_by: str | None = None,
                  buttons: bool = True) -> list[Block]:
    """The answer to `/cost`: header, total and change, breakdown, untagged share, context, buttons."""
    blocks: list[Block] = [
        HeaderBlock(text=clip(f"{answer.scope_label} · {answer.period.label}", MAX_HEADER_CHARS)),
        SectionBlock(
            text=MarkdownTextObject(
                text=f"*{format_money(answer.total, answer.currency)}* "
                f"{answer.period.describe().removeprefix(answer.period.label).strip()}\n{change_line(answer)}"
            )
        ),
    ]
    if answer.dimension is not None:
        groups = list(answer.groups)
        if answer.dimension in ("day", "week", "month"):
            groups.sort(key=lambda g: g.key)
        if answer.group_split is not None:  # allocation: show each team's direct and shared parts
            split = answer.group_split
            groups = [Group(f"{g.key}: direct {format_money(split[g.key][0], answer.currency)} + shared "
                            f"{format_money(split[g.key][1], answer.currency)} =", g.cost)
                      if g.key in split else g for g in groups]
        lines = breakdown_lines(groups, answer.total, answer.currency)
        title = f"*By {answer.dimension}*\n"
        body = "\n".join(lines) if lines else "_no spend in this period_"
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(title + body, MAX_TEXT_CHARS))))
    share = answer.untagged_share
    untagged = format_money(answer.untagged_cost, answer.currency)
    untagged_text = f":label: Untagged: {untagged}" + (f" ({share:.1f}% of total)" if share is not None else "")
    through = answer.data_through.isoformat() if answer.data_through else "no data yet"
    context = [untagged_text, f"{answer.metric} · {answer.currency} · billing data through {through}"]
    if answer.shared_cost is not None and answer.direct_cost is not None:
        context.insert(0, f":handshake: includes {format_money(answer.shared_cost, answer.currency)} of shared costs "
                          f"(direct {format_money(answer.direct_cost, answer.currency)}); add `direct` for the team's "
                          "own cost")
    if shared_by:
        context.append(f"shared by <@{shared_by}>")
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(c, MAX_TEXT_CHARS)) for c in context]))
    if buttons:
        value = clip(query_text, MAX_BUTTON_VALUE) or " "
        elements = [ButtonElement(text="Chart", action_id=ACTION_CHART, value=value)]
        if answer.shared_cost:
            elements.append(ButtonElement(text="Show shared", action_id=ACTION_SHOW_SHARED, value=value))
        if shared_by is None:
            elements.insert(0, ButtonElement(text="Share in channel", action_id=ACTION_SHARE, value=value))
        blocks.append(ActionsBlock(elements=elements))
    return blocks[:MAX_BLOCKS]


def answer_fallback_text(answer: CostAnswer) -> str:
    return (f"{answer.scope_label} {answer.period.label}: {format_money(answer.total, answer.currency)} "
            f"({change_line(answer)})")


def error_blocks(error: CostbotError, command: str = "/cost") -> list[Block]:
    """A problem, a suggestion when there is one, and an example."""
    text = f":warning: {error}"
    if isinstance(error, QueryError):
        example = f"`{command} {EXAMPLES[0]}`"
        text += f"\nFor example: {example} — or `{command} help` for everything you can ask."
    return [SectionBlock(text=MarkdownTextObject(text=clip(text, MAX_TEXT_CHARS)))]


def help_blocks(teams: Sequence[str], command: str = "/cost") -> list[Block]:
    blocks: list[Block] = [
        HeaderBlock(text="Asking costbot"),
        SectionBlock(text=MarkdownTextObject(
            text=f"`{command} [SCOPE ...] [PERIOD] [by DIMENSION] [top N] [billed]` — words in any order.")),
    ]
    for title, items in GRAMMAR_HELP:
        lines = [f"*{title}*"] + [f"• `{key}` — {desc}" for key, desc in items]
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip("\n".join(lines), MAX_TEXT_CHARS))))
    if teams:
        blocks.append(SectionBlock(text=MarkdownTextObject(
            text=clip("*Teams:* " + ", ".join(f"`{t}`" for t in teams), MAX_TEXT_CHARS))))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(
        text=clip("Examples: " + " · ".join(f"`{command} {e}`" for e in EXAMPLES), MAX_TEXT_CHARS))]))
    return blocks


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
        lines = [f"*{ov.team}* — month to date *{mtd}* · {budget}"]
        if ov.forecast is not None:
            lines.append(f"Month-end forecast at this pace: {format_money(ov.forecast, ov.currency, whole=True)}")
        if ov.top_services:
            top = ", ".join(f"{g.key} {format_money(g.cost, ov.currency, whole=True)}" for g in ov.top_services)
            lines.append(f"Top services: {top}")
        if ov.open_recommendations:
            lines.append(f":bulb: {ov.open_recommendations} open recommendations")
        blocks.append(DividerBlock())
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip("\n".join(lines), MAX_TEXT_CHARS))))
        blocks.append(ActionsBlock(elements=[
            ButtonElement(text=label, action_id=f"{ACTION_HOME_ASK}_{i}",
                          value=clip(f"{ov.team} {query}", MAX_BUTTON_VALUE))
            for i, (label, query) in enumerate(HOME_QUESTIONS)
        ]))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text="Type `/cost help` in any channel for more.")]))
    return View(type="home", blocks=blocks[:MAX_BLOCKS])


def _pct_text(current: Decimal, baseline: Decimal) -> str:
    if baseline == 0:
        return "new" if current else "–"
    change = (current - baseline) / abs(baseline) * 100
    return f"{'+' if change >= 0 else ''}{change:.0f}%"


def digest_blocks(digest: Digest) -> list[Block]:
    """A digest message: headline figures, budget and forecast, movers, untagged share; weekly breakdowns."""
    cur = digest.currency
    title = f"{'Weekly' if digest.cadence == 'weekly' else 'Daily'} cost digest · {digest.scope_label}"
    out: list[Block] = [HeaderBlock(text=clip(title, MAX_HEADER_CHARS))]
    day_name = digest.day.strftime("%a %b %d")
    lines = [
        f"*{day_name}: {format_money(digest.yesterday, cur)}* — "
        f"{_pct_text(digest.yesterday, digest.average_7d)} vs the 7-day average "
        f"({format_money(digest.average_7d, cur)}), "
        f"{_pct_text(digest.yesterday, digest.same_weekday_last_week)} vs last {digest.day.strftime('%A')} "
        f"({format_money(digest.same_weekday_last_week, cur)})",
    ]
    mtd = f"Month to date: *{format_money(digest.month_to_date, cur)}*"
    if digest.budget:
        used = digest.month_to_date / digest.budget * 100
        mtd += f" of {format_money(digest.budget, cur, whole=True)} budget ({used:.0f}%)"
    if digest.forecast is not None:
        mtd += f" · month-end forecast {format_money(digest.forecast, cur, whole=True)}"
        if digest.budget and digest.forecast > digest.budget:
            mtd += f" :warning: over budget by {format_money(digest.forecast - digest.budget, cur, whole=True)}"
    lines.append(mtd)
    out.append(SectionBlock(text=MarkdownTextObject(text=clip("\n".join(lines), MAX_TEXT_CHARS))))
    if digest.movers:
        mover_lines = ["*Top movers* (yesterday vs the 7-day average)"]
        for m in digest.movers:
            sign = "+" if m.change >= 0 else "-"
            mover_lines.append(f"• {m.dimension} *{clip(m.key, 80)}*: {format_money(m.current, cur)} "
                               f"({sign}{format_money(abs(m.change), cur)})")
        out.append(SectionBlock(text=MarkdownTextObject(text=clip("\n".join(mover_lines), MAX_TEXT_CHARS))))
    if digest.cadence == "weekly" and digest.week_start is not None:
        week = [f"*Week of {digest.week_start:%b %d}: {format_money(digest.week_total, cur)}* — "
                f"{_pct_text(digest.week_total, digest.previous_week_total)} vs the week before "
                f"({format_money(digest.previous_week_total, cur)})"]
        for name, changes in (("project", digest.by_project), ("model", digest.by_model)):
            if not changes:
                continue
            rows = [f"• *{clip(c.key, 60)}* {format_money(c.current, cur)} ({_pct_text(c.current, c.previous)})"
                    for c in changes[:8]]
            if len(changes) > 8:
                rest = sum((c.current for c in changes[8:]), ZERO)
                rows.append(f"• *{OTHER}* ({len(changes) - 8} more) {format_money(rest, cur)}")
            week.append(f"*By {name}*\n" + "\n".join(rows))
        out.append(SectionBlock(text=MarkdownTextObject(text=clip("\n".join(week), MAX_TEXT_CHARS))))
    if digest.compliance is not None:
        out.append(SectionBlock(text=MarkdownTextObject(
            text=clip("*Tag compliance this week*\n" + "\n".join(compliance_lines(digest.compliance)),
                      MAX_TEXT_CHARS))))
    if digest.savings_waiting:
        out.append(SectionBlock(text=MarkdownTextObject(
            text=f":bulb: {format_money(digest.savings_waiting, cur, whole=True)}/month of savings waiting in "
                 "open recommendations — `/cost idle`")))
    if digest.anomalies:
        out.append(SectionBlock(text=MarkdownTextObject(
            text=clip("*Anomalies*\n" + "\n".join(f"• {a}" for a in digest.anomalies), MAX_TEXT_CHARS))))
    context = []
    if digest.untagged_share is not None:
        context.append(f":label: Untagged this month: {digest.untagged_share:.1f}%")
    through = digest.data_through.isoformat() if digest.data_through else "no data yet"
    context.append(f"billing data through {through}")
    out.append(ContextBlock(elements=[MarkdownTextObject(text=c) for c in context]))
    return out[:MAX_BLOCKS]


def digest_fallback_text(digest: Digest) -> str:
    return (f"{digest.scope_label}: {format_money(digest.yesterday, digest.currency)} on {digest.day:%b %d}, "
            f"{format_money(digest.month_to_date, digest.currency)} month to date")


def _schedule_text(sub: Subscription) -> str:
    minute, hour, _dom, _month, dow = sub.cron.split()
    at = f"{int(hour):02d}:{int(minute):02d}" if hour.isdigit() and minute.isdigit() else None
    if sub.cadence == "daily" and at:
        return f"daily at {at} ({sub.timezone})"
    if sub.cadence == "weekly" and at:
        return f"weekly on {dow.capitalize()} at {at} ({sub.timezone})"
    return f"on `{sub.cron}` ({sub.timezone})"


def subscription_blocks(subs: Sequence[Subscription], channel: str) -> list[Block]:
    if not subs:
        return [SectionBlock(text=MarkdownTextObject(
            text=f"No digests in <#{channel}> yet. Try `/cost digest subscribe team-ml daily 09:00`."))]
    lines = [f"*Digests in <#{channel}>*"]
    for sub in subs[:40]:
        origin = " _(from costbot.yml)_" if sub.origin == "config" else ""
        lines.append(f"• *{clip(sub.scope, MAX_SCOPE_CHARS) or 'all teams'}* {_schedule_text(sub)}{origin}")
    return [SectionBlock(text=MarkdownTextObject(text=clip("\n".join(lines), MAX_TEXT_CHARS)))]


def subscribed_blocks(sub: Subscription) -> list[Block]:
    return [SectionBlock(text=MarkdownTextObject(
        text=f":white_check_mark: <#{sub.channel}> gets the *{clip(sub.scope, MAX_SCOPE_CHARS) or 'all teams'}* "
             f"digest {_schedule_text(sub)}."))]


def notice_blocks(text: str) -> list[Block]:
    return [SectionBlock(text=MarkdownTextObject(text=clip(text, MAX_TEXT_CHARS)))]


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
            f"{clip(k, 50)} {format_money(c, cur, whole=True)}" for k, c in report.top_resources))
    if report.coverage_by_account:
        lines.append("Team-tag coverage by account: " + ", ".join(
            f"{a} {p:.0f}%" for a, p in report.coverage_by_account))
    lines.append("Coverage by tag: " + ", ".join(f"{k} {v:.0f}%" for k, v in report.coverage_by_key.items()))
    return lines


def shared_explanation_blocks(team: str, period_label: str, parts: Sequence[tuple[str, Decimal]],
                              currency: str = "USD") -> list[Block]:
    """A team's shared cost, rule by rule."""
    if not parts:
        return [SectionBlock(text=MarkdownTextObject(text=f"*{team}* has no shared costs in {period_label}."))]
    total = sum((c for _, c in parts), ZERO)
    lines = [f"*{team}*'s shared costs in {period_label}: {format_money(total, currency)}"]
    lines += [f"• rule *{clip(rule, 80)}*: {format_money(cost, currency)}" for rule, cost in parts]
    return [SectionBlock(text=MarkdownTextObject(text=clip("\n".join(lines), MAX_TEXT_CHARS)))]
