"""Rich renderables for the terminal. Pure: answers in, renderables out."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.console import Group as RichGroup
from rich.emoji import Emoji
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from bot.domain.actions import ActionRequest, AuditEntry
from bot.domain.anomalies import AnomalyFindings
from bot.domain.answers import CostAnswer
from bot.domain.budgets import BudgetStatus
from bot.domain.commitments import CommitmentReport
from bot.domain.compliance import TagCompliance
from bot.domain.ingest import IngestSummary, SourceHolding
from bot.domain.money import format_money, to_cents
from bot.domain.recommendations import RecommendationView
from bot.domain.savings import SavingsWaiting
from bot.domain.schedules import SchedulePlan, Step
from bot.domain.status import OperatorStatus
from bot.render.action_blocks import outcome_text
from bot.render.anomaly_blocks import anomaly_text, findings_title
from bot.render.answer_blocks import mover_text
from bot.render.answer_notes import comparison_note, coverage_notes
from bot.render.budget_blocks import budget_lines
from bot.render.compliance_blocks import compliance_lines
from bot.render.savings_blocks import savings_title, savings_total_text

HEADING_WIDTH = 80  # a heading's rule in a file or a pipe, where the width is unbounded


class _Heading:
    def __init__(self, title: str) -> None:
        self.title = title

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width if options.is_terminal else min(options.max_width, HEADING_WIDTH)
        yield from console.render(Rule(Text(self.title)), options.update_width(width))


def heading(title: str) -> RenderableType:
    """A titled rule across the terminal; in a file or a pipe (no width to fill) a rule of HEADING_WIDTH."""
    return _Heading(title)


def change_text(answer: CostAnswer) -> Text:
    if not answer.comparable:
        return Text(f"(the comparison period had {format_money(answer.previous_total, answer.currency)}: not a "
                    "like-for-like change)", style="yellow")
    pct = answer.change_percent
    if answer.previous_total == 0 and answer.total == 0:
        return Text("no spend in either period", style="dim")
    if to_cents(answer.change) == 0:
        return Text(f"■ no change vs previous {format_money(answer.previous_total, answer.currency)}", style="dim")
    arrow = "▲" if answer.change > 0 else ("▼" if answer.change < 0 else "■")
    style = "red" if answer.change > 0 else "green"
    amount = format_money(abs(answer.change), answer.currency)
    pct_text = f"{abs(pct):.1f}%" if pct is not None else "new"
    return Text(f"{arrow} {pct_text} ({'+' if answer.change >= 0 else '-'}{amount}) vs previous "
                f"{format_money(answer.previous_total, answer.currency)}", style=style)


def _share(part: Decimal, total: Decimal) -> str:
    return f"{part / total * 100:.1f}%" if total else "–"


def render_answer(answer: CostAnswer) -> RenderableType:
    answer = answer.in_cents()
    title = Text(f"{answer.scope_label} · {answer.period.describe()}", style="bold")
    total = Text(format_money(answer.total, answer.currency), style="bold cyan")
    parts: list[RenderableType] = [title, Text.assemble("Total ", total, "  ", change_text(answer))]
    parts += [Text(note, style="dim") for note in filter(None, [comparison_note(answer), *coverage_notes(answer)])]
    if answer.shared_cost is not None and answer.direct_cost is not None:
        parts.append(Text(f"= direct {format_money(answer.direct_cost, answer.currency)} + shared "
                          f"{format_money(answer.shared_cost, answer.currency)} (allocation rules; `direct` for the "
                          "team's own cost)", style="dim"))
    if answer.drivers:
        what = {"team": "teams", "service": "services"}.get(answer.drivers_by or "", "parts")
        parts.append(Text(f"Top {what}: " + ", ".join(
            f"{g.key} {format_money(g.cost, answer.currency)} ({_share(g.cost, answer.total)})"
            for g in answer.drivers)))
    if answer.movers:
        parts.append(Text("Why it changed: " + ", ".join(slack_plain(mover_text(m, answer.currency))
                                                         for m in answer.movers)))
    split = answer.group_split
    if answer.dimension is not None:
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        table.add_column(Text(answer.dimension))  # Text, not str: rich reads str cells as markup
        if split is not None:
            table.add_column("direct", justify="right")
            table.add_column("shared", justify="right")
        table.add_column("cost", justify="right")
        table.add_column("share", justify="right")
        groups = list(answer.groups)
        if answer.dimension in ("day", "week", "month"):
            groups.sort(key=lambda g: g.key)
        for g in groups:
            if to_cents(g.cost) == 0:  # "$0.00" rows say nothing
                continue
            extra = []
            if split is not None:
                direct, shared = split.get(g.key, (g.cost, Decimal(0)))
                extra = [format_money(direct, answer.currency), format_money(shared, answer.currency)]
            table.add_row(Text(g.label), *extra, format_money(g.cost, answer.currency), _share(g.cost, answer.total))
        parts.append(table)
    if answer.untagged_applies:
        untagged = format_money(answer.untagged_cost, answer.currency)
        share = answer.untagged_share
        parts.append(Text(f"Untagged: {untagged}" + (f" ({share:.1f}% of total)" if share is not None else ""),
                          style="yellow" if answer.untagged_cost else "dim"))
    through = answer.data_through.isoformat() if answer.data_through else "no data yet"
    parts.append(Text(f"{answer.metric} · {answer.currency} · billing data through {through}", style="dim"))
    return RichGroup(*parts)


def render_ingest_summary(summary: IngestSummary) -> RenderableType:
    table = Table(title="Ingest summary", show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("files", f"{summary.files:,}")
    table.add_row("rows", f"{summary.rows:,}")
    currency = summary.currencies[0] if len(summary.currencies) == 1 else "USD"
    table.add_row("effective cost", format_money(summary.effective_cost, currency))
    table.add_row("billed cost", format_money(summary.billed_cost, currency))
    if summary.first_day and summary.last_day:
        table.add_row("charge dates", f"{summary.first_day} – {summary.last_day}")
    table.add_row("providers", Text(", ".join(summary.providers) or "–"))  # from the files: never markup
    table.add_row("currencies", Text(", ".join(summary.currencies) or "–"))
    for note in summary.notes:
        table.add_row("note", Text(note))  # file names come from the folder: never markup
    return table


def _plain(line: str) -> Text:
    """A Slack mrkdwn line for the terminal: bold markers dropped, shown as text (never as Rich markup)."""
    return Text(line.replace("*", "").replace("`", ""))


def render_help(text: str) -> RenderableType:
    return Text(text)


def render_budgets(statuses: Sequence[BudgetStatus]) -> RenderableType:
    if not statuses:
        return Text("No budgets yet (teams.<team>.budget in costbot.yml, or /cost budget set in Slack).")
    parts: list[RenderableType] = []
    for status in statuses:
        parts.append(heading(f"{status.scope} · {status.month:%B %Y}"))
        parts += [_plain(line) for line in budget_lines(status)]
    return RichGroup(*parts)


def render_anomalies(found: AnomalyFindings, currency: str) -> RenderableType:
    if not found.anomalies:
        return Text(f"No anomalies for {found.scope_label} in {found.period.describe()}.")
    return RichGroup(heading(findings_title(found)), *[
        _plain(anomaly_text(a, currency) + (" (acknowledged)" if a.status == "acknowledged" else ""))
        for a in found.anomalies])


def render_compliance(report: TagCompliance) -> RenderableType:
    return RichGroup(heading(f"Tag compliance · {report.period.describe()}"),
                     *[_plain(line) for line in compliance_lines(report)])


def render_recommendations(teams: Sequence[tuple[str | None, Sequence[RecommendationView]]],
                           currency: str) -> RenderableType:
    parts: list[RenderableType] = []
    for team, rows in teams:
        table = Table(title=f"Ways to save · {team or 'all teams'}", box=None)
        for col in ("resource", "team", "type", "finding", "saves/month", "status"):
            table.add_column(col)
        for row in rows:
            rec = row.recommendation
            target = f" → {rec.target_type}" if rec.target_type else ""
            saving = format_money(rec.monthly_savings, currency, whole=True) if rec.monthly_savings else "–"
            status = row.request.status if row.request is not None else "open"
            table.add_row(Text(rec.name), Text(rec.team or "–"), Text(rec.resource_type + target),
                          Text(f"{rec.kind}: {rec.reason}"), saving, status)
        parts.append(table if rows else Text(f"No open recommendations for {team or 'any team'}."))
    return RichGroup(*parts)


def render_savings(result: SavingsWaiting, currency: str) -> RenderableType:
    """`costbot ask "savings [TEAM]"`: the same rows and total as Slack's, as a table."""
    if not result.rows:
        return Text(f"No open recommendations for {result.team or 'any team'}.")
    table = Table(title=savings_title(result), box=None)
    for col in ("resource", "team", "type", "finding", "saves/month"):
        table.add_column(col, justify="right" if col == "saves/month" else "left")
    for row in result.rows:
        rec = row.recommendation
        target = f" → {rec.target_type}" if rec.target_type else ""
        saving = "–" if row.monthly_savings is None else format_money(row.monthly_savings, currency)
        table.add_row(Text(rec.name), Text(rec.team or "–"), Text(rec.resource_type + target),
                      Text(f"{rec.kind}: {rec.reason}"), saving)
    return RichGroup(table, Text(savings_total_text(result, currency)))


def render_audit(entries: Sequence[AuditEntry], details: bool = False) -> RenderableType:
    if not entries:
        return Text("No actions yet.")
    table = Table(title="Recent actions")
    for col in ("when (UTC)", "who", "action", "resource", "result", "before → after / error"):
        table.add_column(col)
    for e in entries:
        detail = e.error or (f"{e.before} → {e.after}" if e.before or e.after else "")
        if details and e.detail:
            detail += f"\n{e.detail}"
        table.add_row(e.at.strftime("%Y-%m-%d %H:%M"), Text(e.actor), e.action, Text(e.resource_key.split("|")[-1]),
                      e.result + (" (dry run)" if e.dry_run else ""), Text(detail))
    return table


_SLACK_MARKUP = re.compile(r"<[@#!]([^>|]*)(?:\|([^>]*))?>")


def slack_plain(text: str) -> str:
    """Slack mrkdwn for a terminal: mentions as their ids, dates as their fallback text, emoji as emoji, no
    bold or code markers."""
    text = _SLACK_MARKUP.sub(lambda m: m.group(2) or m.group(1).split("^")[0], text)
    return Emoji.replace(text.replace("*", "").replace("`", ""))


def render_outcome(request: ActionRequest, currency: str, named: str | None = None) -> RenderableType:
    """What became of an action asked for from the terminal, and its number (to approve or undo it). `named` is
    the resource as the user called it (else its id)."""
    if request.status == "requested":
        what = f"{request.action} {named or request.resource_key.split('|')[-1]}"
        team = request.team or "the owners"
        return Text(f"⌛ {request.requested_by} asked to {what}: waiting for an approver of {team} "
                    f"(costbot action approve {request.id} --as USER_ID)")
    return Text(f"{slack_plain(outcome_text(request, currency))} (request {request.id})")


def render_sources(holdings: Sequence[SourceHolding], currency: str) -> RenderableType:
    """What each billing source holds: `costbot sources list` and `costbot ask sources`."""
    from bot.render.source_blocks import accounts_text, months_text, when_text

    if not holdings:
        return Text("No billing data yet: `costbot ingest PATH` or `sources:` in costbot.yml.")
    table = Table(title="Billing sources", box=None)
    for col in ("source", "accounts", "months", "rows", "effective", "billed", "last change / sync"):
        table.add_column(col, justify="right" if col in ("rows", "effective", "billed") else "left")
    for h in holdings:
        table.add_row(Text(h.name + (" (costbot.yml)" if h.configured else "")), Text(accounts_text(h)),
                      months_text(h), f"{h.rows:,}", format_money(h.effective_cost, currency),
                      format_money(h.billed_cost, currency), when_text(h))
    return table


def render_commitments(report: CommitmentReport, currency: str) -> RenderableType:
    """`costbot ask commitments`: each commitment, its term and how much of what has fallen due is used."""
    from bot.render.commitment_blocks import EMPTY, used_text

    if not report.commitments:
        return Text(EMPTY)
    table = Table(title="Contract commitments", box=None)
    for col in ("commitment", "kind", "committed", "term", "days left", "used so far"):
        table.add_column(col, justify="right" if col in ("committed", "days left") else "left")
    for c in report.commitments:
        left = c.days_left(report.until) if report.until else None
        table.add_row(Text(c.description or c.id), Text(c.kind), format_money(c.cost, c.currency or currency),
                      f"{c.start:%Y-%m-%d} – {c.end:%Y-%m-%d}", "–" if left is None else f"{left:,}",
                      used_text(c, report, currency))
    through = report.through.isoformat() if report.through else "no data yet"
    return RichGroup(table, Text(f"billing data through {through}", style="dim"))


def render_status(status: OperatorStatus) -> RenderableType:
    def when(value: datetime | None) -> str:
        return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else "–"

    overview = Table.grid(padding=(0, 2))
    overview.add_row("version", status.version)
    overview.add_row("store", Text(status.store))
    overview.add_row("rows", f"{status.rows:,}")
    overview.add_row("data through", status.data_through.isoformat() if status.data_through else "–")
    overview.add_row("scheduler", Text(f"{status.leader} (lease until {when(status.leader_until)})"
                                       if status.leader else "no active scheduler"))
    parts: list[RenderableType] = [overview]
    if status.advice:
        parts.append(Text("Beyond one machine: " + "; ".join(status.advice) + ".", style="bold yellow"))
    sources = Table(title="Sources")
    for col in ("source", "rows", "last change", "last sync", "in costbot.yml"):
        sources.add_column(col)
    for s in status.sources:
        sources.add_row(Text(s.name), f"{s.rows:,}", when(s.last_loaded), when(s.last_sync),
                        "yes" if s.configured else "no")
    parts.append(sources if status.sources else Text("No billing data yet."))
    runs = Table(title="Next runs (when a scheduler is active)")
    for col in ("job", "what", "next run"):
        runs.add_column(col)
    for r in status.runs:
        runs.add_row(r.job, Text(r.what), when(r.next_run))
    parts.append(runs)
    if status.approvals:
        approvals = Table(title="Waiting for approval")
        for col in ("request", "action", "resource", "team", "asked by", "expires"):
            approvals.add_column(col)
        for a in status.approvals:
            approvals.add_row(str(a.request_id), a.action, Text(a.resource_key.split("|")[-1]), Text(a.team or "–"),
                              Text(a.requested_by), when(a.expires_at))
        parts.append(approvals)
    else:
        parts.append(Text("Nothing waiting for approval."))
    if status.errors:
        errors = Table(title="Recent errors")
        for col in ("when", "what", "error"):
            errors.add_column(col)
        for e in status.errors:
            errors.add_row(when(e.at), Text(e.what), Text(e.error))
        parts.append(errors)
    else:
        parts.append(Text("No recent errors."))
    return RichGroup(*parts)


def render_schedule_plans(plans: Sequence[SchedulePlan], currency: str) -> RenderableType:
    """`costbot schedules`: per schedule its hours, when it next stops and starts (its own time zone), each
    resource and whether the stop takes it, what the start brings back, and the last 7 days' savings."""
    parts: list[RenderableType] = []
    for p in plans:
        zone = ZoneInfo(p.zone)
        days = "every day" if p.weekends == "on" else "Monday to Friday"
        holidays = f", not on {', '.join(d.isoformat() for d in p.holidays)}" if p.holidays else ""
        parts.append(heading(p.name))
        parts.append(Text(f"on {p.on}, off {p.off} ({p.zone}), {days}{holidays}"))
        events = sorted(((at, what) for what, at in (("stop", p.next_stop), ("start", p.next_start)) if at),
                        key=lambda e: e[0])  # whichever comes first, first
        when = [f"next {what} {at.astimezone(zone):%a %Y-%m-%d %H:%M %Z}" for at, what in events]
        when += [f"no next {what}" for what, at in (("stop", p.next_stop), ("start", p.next_start)) if at is None]
        parts.append(Text(" · ".join(when)))
        table = Table(show_edge=False)
        for col in ("resource", "team", "state", "follows", "at the next stop"):
            table.add_column(col)
        for r in p.rows:
            table.add_row(Text(r.name), Text(r.team or "–"), Text(r.state), Text(r.follows),
                          Text("stops" if r.note is None else f"stays: {r.note}"))
        parts.append(table if p.rows else Text("No resources follow it."))
        if p.stopped:
            parts.append(Text("The next start brings back: " + ", ".join(r.name for r in p.stopped)))
        parts.append(Text(f"Saved over the last 7 days: {format_money(p.saved.amount, currency)} "
                          f"({p.saved.hours:.1f} resource-hours off, {p.saved.resources} resource(s))"))
    return RichGroup(*parts)


def render_schedule_steps(steps: Sequence[Step], at: datetime, applied: bool) -> RenderableType:
    """`costbot schedules run`: what was (or would be) posted, stopped and started."""
    title = f"Schedules at {at.isoformat()}" + ("" if applied else " (dry run: nothing changed)")
    if not steps:
        return RichGroup(heading(title), Text("Nothing is due."))
    table = Table(show_edge=False)
    for col in ("schedule", "event", "night/day", "team", "what", "outcome"):
        table.add_column(col)
    for s in steps:
        table.add_row(Text(s.schedule), Text(s.event), Text(s.day.isoformat()), Text(s.team or "–"), Text(s.what),
                      Text(s.outcome))
    return RichGroup(heading(title), table)
