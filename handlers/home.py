"""App Home: each of the user's teams at a glance."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, Respond
from slack_sdk import WebClient

from bot.config import CostbotConfig
from bot.render.home_blocks import home_view
from bot.services.container import UseCases
from handlers.errors import ack_now, reported


def register(app: App, uc: UseCases, config: CostbotConfig) -> None:
    @reported
    def home(event: dict[str, Any], client: WebClient, body: dict[str, Any], respond: Respond) -> None:
        if event.get("tab", "home") != "home":
            return
        user = str(event["user"])
        client.views_publish(user_id=user, view=home_view(uc.home.overviews(user)))

    app.event("app_home_opened")(ack=ack_now, lazy=[home])
