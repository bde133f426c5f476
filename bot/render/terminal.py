"""Rich renderables for the terminal. Pure: answers in, renderables out."""

from __future__ import annotations

from decimal import Decimal

from rich.console import Group as RichGroup
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from bot.domain.answers import CostAnswer
from bot.domain.money import format_money
from bot.ports import IngestSummary


def change_text(answer: CostAnswer) -> Text:
    pct = answer.change_percent
    if answer.previous_total == 0 and answer.total == 0:
        return Text("no spend in either period", style="dim")
    arrow = "▲" if answer.change > 0 else ("▼" if answer.change < 0 else "■")
    style = "red" if answer.change > 0 else "green"
    amount = format_money(abs(answer.change), answer.currency)
    pct_text = f"{abs(pct):.1f}%" if pct is not None else "new"
    return Text(f"{arrow} {pct_text} ({'+' if answer.change >= 0 else '-'}{amount}) vs previous "
                f"{format_money(answer.previous_total, answer.currency)}", style=style)


def _share(part: Decimal, total: Decimal) -> str:
    return f"{part / total * 100:.1f}%" if total else "–"


def render_answer(answer: CostAnswer) -> RenderableType:
    title = Text(f"{answer.scope_label} · {answer.period.describe()}", style="bold")
    total = Text(format_money(answer.total, answer.currency), style="bold cyan")
    parts: list[RenderableType] = [title, Text.assemble("Total ", total, "  ", change_text(answer))]
    if answer.shared_cost is not None and answer.direct_cost is not None:
        parts.append(Text(f"= direct {format_money(answer.direct_cost, answer.currency)} + shared "
                          f"{format_money(answer.shared_cost, answer.currency)} (allocation rules; `direct` for the "
                          "team's own cost)", style="dim"))
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
            extra = []
            if split is not None:
                direct, shared = split.get(g.key, (g.cost, Decimal(0)))
                extra = [format_money(direct, answer.currency), format_money(shared, answer.currency)]
            table.add_row(Text(g.key), *extra, format_money(g.cost, answer.currency), _share(g.cost, answer.total))
        parts.append(table)
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
    return table
