"""Digests and their subscriptions in Block Kit."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.domain.digest import Digest
from bot.domain.money import ZERO, format_money, round_to_total
from bot.domain.spec import OTHER
from bot.domain.subscriptions import Subscription
from bot.render.common import MAX_BLOCKS, MAX_HEADER_CHARS, MAX_SCOPE_CHARS, MAX_TEXT_CHARS, clip
from bot.render.compliance_blocks import compliance_lines


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
            mover_lines.append(f"• {m.dimension} *{clip(m.label, 80)}*: {format_money(m.current, cur)} "
                               f"({sign}{format_money(abs(m.change), cur)})")
        out.append(SectionBlock(text=MarkdownTextObject(text=clip("\n".join(mover_lines), MAX_TEXT_CHARS))))
    if digest.cadence == "weekly" and digest.week_start is not None:
        week = [f"*Week of {digest.week_start:%b %d}: {format_money(digest.week_total, cur)}* — "
                f"{_pct_text(digest.week_total, digest.previous_week_total)} vs the week before "
                f"({format_money(digest.previous_week_total, cur)})"]
        for name, changes in (("project", digest.by_project), ("model", digest.by_model)):
            if not changes:
                continue
            shown = round_to_total({i: c.current for i, c in enumerate(changes)}, digest.week_total)  # adds up
            rows = [f"• *{clip(c.label, 60)}* {format_money(shown[i], cur)} ({_pct_text(c.current, c.previous)})"
                    for i, c in enumerate(changes[:8])]
            if len(changes) > 8:
                rest = sum((shown[i] for i in range(8, len(changes))), ZERO)
                rows.append(f"• *{OTHER}* ({len(changes) - 8} more) {format_money(rest, cur)}")
            week.append(f"*By {name}*\n" + "\n".join(rows))
        out.append(SectionBlock(text=MarkdownTextObject(text=clip("\n".join(week), MAX_TEXT_CHARS))))
    if digest.experiments:
        rows = [f"{i}. *{clip(c.key, 60)}* {format_money(c.current, cur)} ({_pct_text(c.current, c.previous)})"
                for i, c in enumerate(digest.experiments, 1)]
        out.append(SectionBlock(text=MarkdownTextObject(
            text=clip("*Most expensive experiments* (last week, `/cost by experiment`)\n" + "\n".join(rows),
                      MAX_TEXT_CHARS))))
    if digest.compliance is not None:
        out.append(SectionBlock(text=MarkdownTextObject(
            text=clip("*Tag compliance this week*\n" + "\n".join(compliance_lines(digest.compliance)),
                      MAX_TEXT_CHARS))))
    if digest.shared_clusters:
        shares = " · ".join(f"{name} {format_money(cost, cur)}" for name, cost in digest.shared_clusters[:5])
        out.append(SectionBlock(text=MarkdownTextObject(text=clip(
            f":ship: *Shared clusters this month* (its share, split by the bill): {shares}", MAX_TEXT_CHARS))))
    if digest.savings_waiting:
        out.append(SectionBlock(text=MarkdownTextObject(
            text=f":bulb: {format_money(digest.savings_waiting, cur, whole=True)}/month of savings waiting in "
                 "open recommendations — `/cost savings` lists them, `/cost idle` has the buttons")))
    if digest.schedule_savings:
        out.append(SectionBlock(text=MarkdownTextObject(
            text=f":crescent_moon: Off-hours schedules saved {format_money(digest.schedule_savings, cur)} that week "
                 "(hours off × each resource's hourly cost) — `costbot schedules` shows the plan")))
    if digest.anomalies:
        lines = [f"• {a.service} on {a.day:%a %b %d}: {format_money(a.actual, cur)} against a usual "
                 f"{format_money(a.baseline, cur)}" + (" _(acknowledged)_" if a.status == "acknowledged" else "")
                 for a in digest.anomalies[:5]]
        out.append(SectionBlock(text=MarkdownTextObject(
            text=clip("*Anomalies this week*\n" + "\n".join(lines), MAX_TEXT_CHARS))))
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
