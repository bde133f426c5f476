"""The notes an answer carries about its periods, worded once for Slack and the terminal: what was compared when
the period runs past the data ("Nov 1–27 vs Oct 1–27; data through Nov 27"), and a period the store only
partly holds."""

from __future__ import annotations

from datetime import date, timedelta

from bot.domain.answers import CostAnswer
from bot.domain.periods import Coverage


def _day(d: date, year: bool) -> str:
    return f"{d:%b} {d.day}" + (f", {d.year}" if year else "")


def span_text(start: date, end: date, year: bool = False) -> str:
    """A half-open range of days as people write it: `Nov 16`, `Nov 1–27`, `Oct 30 – Nov 5`,
    `Dec 30, 2025 – Jan 2, 2026`; with `year`, the year always (`Jan 1 – Nov 27, 2025`)."""
    last = max(end - timedelta(days=1), start)
    suffix = f", {last.year}" if year else ""
    if last == start:
        return _day(start, False) + suffix
    if start.year != last.year:
        return f"{_day(start, True)} – {_day(last, True)}"
    if start.month == last.month:
        return f"{_day(start, False)}–{last.day}{suffix}"
    return f"{_day(start, False)} – {_day(last, False)}{suffix}"


def comparison_note(answer: CostAnswer) -> str | None:
    """When the period runs past the data: what was compared with what, and how far the data goes."""
    period = answer.period
    if not period.cut or answer.data_through is None:
        return None
    years = period.start.year != period.previous_start.year  # ytd: say which year is which
    return (f"{span_text(period.start, period.end, years)} vs "
            f"{span_text(period.previous_start, period.previous_end, years)}; "
            f"data through {_day(answer.data_through, years)}")


def _held(coverage: Coverage) -> str:
    if coverage.days == 0:
        return "no billing data"
    held = span_text(coverage.start, coverage.end)
    return f"billing data only for {held} ({coverage.days} of {coverage.of_days} days)"


def coverage_notes(answer: CostAnswer) -> list[str]:
    """A period or comparison period the store holds only part of: said, instead of a misleading change."""
    notes = []
    period = answer.period
    if answer.coverage is not None:
        notes.append(f"the store holds {_held(answer.coverage)} of {span_text(period.start, period.end)}")
    if answer.previous_coverage is not None:
        notes.append(f"no like-for-like change: the store holds {_held(answer.previous_coverage)} of the comparison "
                     f"period {span_text(period.previous_start, period.previous_end)}")
    return notes
