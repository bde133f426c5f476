"""App Home: each of the user's teams at a glance."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt import App, Respond
from slack_sdk import WebClient

from bot.render import blocks
from handlers.errors import ack_now, reported

if TYPE_CHECKING:
    from bot.app import Services


def register(app: App, services: Services) -> None:
    @reported
    def home(event: dict[str, Any], client: WebClient, body: dict[str, Any], respond: Respond) -> None:
        if event.get("tab", "home") != "home":
            return
        user = str(event["user"])
        overviews = [services.costs.team_overview(team) for team in services.config.teams_of(user)]
        client.views_publish(user_id=user, view=blocks.home_view(overviews))

    app.event("app_home_opened")(ack=ack_now, lazy=[home])
