"""An estimate of a change, three ways: a terminal table, JSON (`--format json`) and markdown for a pull
request comment (`--format markdown`: the verdict first, the per-resource table folded under it). Pure."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rich.console import Group as RichGroup
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from bot.domain.estimate import CostLine, Estimate, GuardCheck, Headroom
from bot.domain.money import format_money as money
from bot.domain.money import to_cents

VERDICT_MARK = {"pass": "✅", "approved": "✅", "needs approval": "⏳", "rejected": "❌", "over policy": "❌"}


def signed(amount: Decimal, currency: str) -> str:
    """`+$1,234.56`, `-$70.08`, `$0.00`."""
    cents = to_cents(amount)
    return ("+" if cents > 0 else "") + money(cents, currency)


def verdict_text(estimate: Estimate) -> str:
    """One line: the verdict and the monthly change, e.g. `pass: +$1,234.56/month`."""
    text = f"{estimate.verdict}: {signed(estimate.monthly_delta, estimate.currency)}/month"
    if estimate.one_off:
        text += f" and {money(estimate.one_off, estimate.currency)} one-off"
    return text


def _line_change(line: CostLine) -> str:
    return f"{line.action}: {line.description}" if line.description else line.action


def _headroom_row(h: Headroom, currency: str) -> list[str]:
    def amount(value: Decimal | None) -> str:
        return money(value, currency) if value is not None else "no budget"

    return [h.team, amount(h.budget), money(h.forecast, currency), amount(h.before),
            signed(h.change_this_month, currency), amount(h.after)]


HEADROOM_COLUMNS = ("team", "budget", "month-end forecast", "headroom now", "change this month", "headroom after")
LINE_COLUMNS = ("resource", "change", "team", "monthly before", "monthly after", "monthly delta", "one-off")


def _decision_lines(estimate: Estimate) -> list[str]:
    out = []
    for d in estimate.decisions:
        who = f" by {d.by}" if d.by else ""
        when = f" on {d.at:%Y-%m-%d}" if d.at else ""
        out.append(f"{d.team or 'admins'}: {d.status}{who}{when}")
    return out


def _next_step(estimate: Estimate) -> str | None:
    if estimate.verdict == "needs approval":
        return "Run again with --request-approval to ask the team's approvers in Slack."
    return None


# -- terminal -------------------------------------------------------------------------------------------------------
def render_estimate(estimate: Estimate) -> RenderableType:
    cur = estimate.currency
    style = "green" if estimate.passed else "red"
    parts: list[RenderableType] = [Text(f"{VERDICT_MARK[estimate.verdict]} {verdict_text(estimate)}",
                                        style=f"bold {style}")]
    for f in estimate.findings:
        parts.append(Text(f"  • {f.reason}"))
    for d in _decision_lines(estimate):
        parts.append(Text(f"  approval: {d}", style="dim"))
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for i, col in enumerate(LINE_COLUMNS):
        table.add_column(col, justify="right" if i >= 3 else "left")
    for line in estimate.lines:
        if line.unpriced is not None and not line.monthly_after and not line.monthly_before:
            table.add_row(Text(line.address), Text(line.action), Text(line.team or "–"),
                          Text(f"unpriced: {line.unpriced}", style="yellow"), "", "", "")
            continue
        table.add_row(Text(line.address), Text(_line_change(line)), Text(line.team or "–"),
                      money(line.monthly_before, cur), money(line.monthly_after, cur),
                      signed(line.monthly_delta, cur), money(line.one_off, cur) if line.one_off else "–")
        if line.unpriced is not None:
            table.add_row("", Text(f"partly unpriced: {line.unpriced}", style="yellow"), "", "", "", "", "")
    parts.append(table)
    if estimate.headroom:
        heads = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        for i, col in enumerate(HEADROOM_COLUMNS):
            heads.add_column(col, justify="right" if i else "left")
        for h in estimate.headroom:
            heads.add_row(*[Text(c) for c in _headroom_row(h, cur)])
        parts.append(heads)
    if estimate.plan.skipped:
        parts.append(Text("No usage cost modelled: " + ", ".join(a for a, _ in estimate.plan.skipped), style="dim"))
    parts.append(Text("Prices: " + ("; ".join(estimate.price_sources) or "none needed"), style="dim"))
    step = _next_step(estimate)
    if step:
        parts.append(Text(step))
    return RichGroup(*parts)


# -- json -----------------------------------------------------------------------------------------------------------
def _cents(amount: Decimal | None) -> float | None:
    return float(to_cents(amount)) if amount is not None else None


def estimate_to_json(estimate: Estimate) -> dict[str, Any]:
    return {
        "plan": estimate.plan.name,
        "plan_hash": estimate.plan.digest,
        "verdict": estimate.verdict,
        "passed": estimate.passed,
        "currency": estimate.currency,
        "monthly_delta": _cents(estimate.monthly_delta),
        "one_off": _cents(estimate.one_off),
        "lines": [{
            "address": line.address, "type": line.type, "action": line.action, "description": line.description,
            "team": line.team, "monthly_before": _cents(line.monthly_before),
            "monthly_after": _cents(line.monthly_after), "monthly_delta": _cents(line.monthly_delta),
            "one_off": _cents(line.one_off), "unpriced": line.unpriced,
            "price_source": ", ".join(line.price_sources) or None,
        } for line in estimate.lines],
        "headroom": [{
            "team": h.team, "budget": _cents(h.budget), "month_to_date": _cents(h.month_to_date),
            "forecast": _cents(h.forecast), "before": _cents(h.before),
            "change_this_month": _cents(h.change_this_month), "after": _cents(h.after),
        } for h in estimate.headroom],
        "findings": [{"team": f.team, "reason": f.reason, "approvable": f.approvable} for f in estimate.findings],
        "decisions": [{"team": d.team, "status": d.status, "by": d.by,
                       "at": d.at.isoformat() if d.at else None} for d in estimate.decisions],
        "skipped": [{"address": a, "type": t} for a, t in estimate.plan.skipped],
        "price_sources": list(estimate.price_sources),
        "as_of": estimate.as_of.isoformat() if estimate.as_of else None,
    }


# -- markdown -------------------------------------------------------------------------------------------------------
def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def estimate_markdown(estimate: Estimate) -> str:
    """A pull request comment: the verdict first, then why, then the per-resource table in a <details>."""
    cur = estimate.currency
    lines = [f"### {VERDICT_MARK[estimate.verdict]} costbot: {verdict_text(estimate)}", ""]
    if estimate.findings:
        lines += [f"- {f.reason}" for f in estimate.findings] + [""]
    if estimate.decisions:
        lines += [f"- approval: {d}" for d in _decision_lines(estimate)] + [""]
    step = _next_step(estimate)
    if step:
        lines += [step.replace("--request-approval", "`--request-approval`"), ""]
    if estimate.headroom:
        lines.append(_row(list(HEADROOM_COLUMNS)))
        lines.append("|---|" + "---:|" * (len(HEADROOM_COLUMNS) - 1))
        lines += [_row(_headroom_row(h, cur)) for h in estimate.headroom]
        lines.append("")
    count = len(estimate.lines)
    lines.append(f"<details><summary>{count} resource{'s' if count != 1 else ''} priced · prices: "
                 f"{_cell('; '.join(estimate.price_sources) or 'none needed')}</summary>")
    lines.append("")
    lines.append(_row(list(LINE_COLUMNS)))
    lines.append("|---|---|---|" + "---:|" * (len(LINE_COLUMNS) - 3))
    for line in estimate.lines:
        if line.unpriced is not None and not line.monthly_after and not line.monthly_before:
            lines.append(_row([f"`{line.address}`", line.action, line.team or "–", f"**unpriced**: {line.unpriced}",
                               "", "", ""]))
            continue
        change = _line_change(line) + (f" (partly unpriced: {line.unpriced})" if line.unpriced else "")
        lines.append(_row([f"`{line.address}`", change, line.team or "–", money(line.monthly_before, cur),
                           money(line.monthly_after, cur), signed(line.monthly_delta, cur),
                           money(line.one_off, cur) if line.one_off else "–"]))
    if estimate.plan.skipped:
        lines += ["", "No usage cost modelled: " + ", ".join(f"`{a}`" for a, _ in estimate.plan.skipped)]
    lines += ["", "</details>", "", f"<sub>plan {estimate.plan.digest[:12]}</sub>"]
    return "\n".join(lines) + "\n"


# -- guard ------------------------------------------------------------------------------------------------------------
def guard_text(check: GuardCheck) -> str:
    return ("allowed: " if check.allowed else "refused: ") + check.reason
