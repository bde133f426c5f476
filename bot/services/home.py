"""App Home: each of a user's teams at a glance — the month so far against the budget and the month-end
forecast (the budget service's, the same figures `/cost budget` shows), top services, open recommendations."""

from __future__ import annotations

from bot.config import CostbotConfig
from bot.domain.answers import Group
from bot.domain.errors import NoData, UnknownScope
from bot.domain.overview import TeamOverview
from bot.domain.query import Dimension, Query, Scope
from bot.domain.spec import NONE_KEY, OTHER
from bot.services.actions import ActionService
from bot.services.answers import AnswerService
from bot.services.budgets import BudgetService


class HomeService:
    def __init__(self, answers: AnswerService, budgets: BudgetService, actions: ActionService,
                 config: CostbotConfig) -> None:
        self.answers = answers
        self.budgets = budgets
        self.actions = actions
        self.config = config

    def teams_of(self, user: str) -> list[str]:
        return self.config.teams_of(user)

    def overview(self, team: str) -> TeamOverview:
        month = self.budgets.month(team)
        try:
            top = self.answers.answer(Query(scopes=(Scope("team", team),), period="mtd",
                                            by=Dimension("service", "column", "ServiceName"), top=3)).in_cents()
            top_services = tuple(g for g in top.groups if g.key != OTHER)
        except (NoData, UnknownScope):  # the first of the month before its data arrives; a team with no spend yet
            top_services = ()
        open_count, savings = self.actions.open_savings(team)
        return TeamOverview(
            team=team, currency=self.config.currency, month_to_date=month.month_to_date, budget=month.budget,
            forecast=month.forecast, top_services=top_services, shared_clusters=self.shared_clusters(team),
            open_recommendations=open_count, savings_waiting=savings, data_through=month.day,
        )

    def shared_clusters(self, team: str) -> tuple[Group, ...]:
        """The team's share of shared Kubernetes clusters this month (split by the provider's cost allocation)."""
        try:
            answer = self.answers.answer(Query(scopes=(Scope("team", team),), period="mtd",
                                               by=Dimension("cluster", "column", "x_Cluster"), top=3)).in_cents()
        except (NoData, UnknownScope):
            return ()
        return tuple(g for g in answer.groups if g.key not in (OTHER, NONE_KEY))

    def overviews(self, user: str) -> list[TeamOverview]:
        return [self.overview(team) for team in self.teams_of(user)]
