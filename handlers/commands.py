"""`/cost`: ack inside the request, then parse, call the cost service, render, respond (ephemeral)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt import App, Respond

from bot.domain.query import HelpRequest
from bot.render import blocks
from handlers.errors import ack_now, reported

if TYPE_CHECKING:
    from bot.app import Services


def register(app: App, services: Services) -> None:
    @reported
    def answer(command: dict[str, Any], body: dict[str, Any], respond: Respond) -> None:
        text = str(command.get("text") or "").strip()
        user = str(command.get("user_id") or "")
        if not text:
            teams = services.config.teams_of(user)
            texts = [f"{team} last-7d" for team in teams[:3]] or ["last-7d"]
        else:
            texts = [text]
        for question in texts:
            result = services.costs.ask(question)
            if isinstance(result, HelpRequest):
                respond(blocks=blocks.help_blocks(list(services.config.teams)), text="How to ask costbot",
                        response_type="ephemeral")
                continue
            respond(blocks=blocks.answer_blocks(result, question), text=blocks.answer_fallback_text(result),
                    response_type="ephemeral")

    # the ack runs inside the HTTP request (Slack wants it within 3 s); the answer follows via response_url
    app.command("/cost")(ack=ack_now, lazy=[answer])
