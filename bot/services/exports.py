"""The showback export for finance: the rows of `by team`, in the currency's minor unit, reconciling to the cent
with the `by team` answer for the same period (the same period cut, the same rounding)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import CostbotConfig
from bot.domain.allocation import ShowbackRow, reconcile
from bot.domain.money import minor_unit, round_to_total
from bot.domain.periods import Period
from bot.domain.query import Dimension, Query
from bot.services.allocation import AllocationService
from bot.services.answers import AnswerService


@dataclass(frozen=True)
class Showback:
    period: Period
    currency: str
    rows: tuple[ShowbackRow, ...]


class ExportService:
    def __init__(self, answers: AnswerService, allocation: AllocationService, config: CostbotConfig) -> None:
        self.answers = answers
        self.allocation = allocation
        self.config = config

    def showback(self, period_word: str) -> Showback:
        """Each team's rows add up exactly to what `PERIOD by team` shows for it, and all rows to its total."""
        team = Dimension("team", "team", self.config.grammar.team_tag_key)
        answer = self.answers.answer(Query(period=period_word, by=team))
        unit = minor_unit(self.config.currency)
        shown = round_to_total({g.key: g.cost for g in answer.groups}, answer.total, unit)
        rows = self.allocation.showback(answer.period.start, answer.period.end)
        return Showback(answer.period, self.config.currency, tuple(reconcile(rows, shown, unit)))
