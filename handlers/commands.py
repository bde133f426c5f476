"""`/cost`: ack inside the request, then answer through the word table (bot/words.py) and respond ephemerally."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App, Respond

from bot.config import CostbotConfig
from bot.services.container import UseCases
from bot.words import Caller, answer_in_slack
from handlers.errors import ack_now, reported

#: Bolt's `respond` (or anything with its keyword arguments)
Responder = Callable[..., Any]


def dispatch(uc: UseCases, config: CostbotConfig, text: str, user: str, channel: str, respond: Responder) -> None:
    """One `/cost` command. `/cost` alone answers the last 7 days of the user's teams (or the organization).
    Raises CostbotError for any problem with what the user typed (the caller turns it into a message)."""
    text = text.strip()
    texts = [text] if text else [f"{team} last-7d" for team in uc.home.teams_of(user)[:3]] or ["last-7d"]
    for question in texts:
        for blocks, fallback in answer_in_slack(uc, config, question, Caller(user, channel)):
            respond(blocks=blocks, text=fallback, response_type="ephemeral")


def register(app: App, uc: UseCases, config: CostbotConfig) -> None:
    @reported
    def answer(command: dict[str, Any], body: dict[str, Any], respond: Respond) -> None:
        dispatch(uc, config, str(command.get("text") or ""), str(command.get("user_id") or ""),
                 str(command.get("channel_id") or ""), respond)

    # the ack runs inside the HTTP request (Slack wants it within 3 s); the answer follows via response_url
    app.command("/cost")(ack=ack_now, lazy=[answer])
