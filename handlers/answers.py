"""Buttons on answers and on App Home: Share in channel, Chart, Show shared, Resource ids, All commands, and App
Home's common questions. Answers' buttons carry the question and the day it was asked."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from slack_bolt import App, Respond
from slack_sdk import WebClient

from bot.config import CostbotConfig
from bot.domain.answers import CostAnswer, unpin_question
from bot.domain.errors import QueryError
from bot.domain.query import Query
from bot.render import answer_blocks
from bot.render.action_ids import (
    ACTION_CHART,
    ACTION_HELP_ALL,
    ACTION_HOME_ASK,
    ACTION_SHARE,
    ACTION_SHOW_IDS,
    ACTION_SHOW_SHARED,
)
from bot.render.charts import chart_filename, stacked_daily_png
from bot.services.container import UseCases
from handlers.errors import ack_now, reported


def _channel(body: dict[str, Any]) -> str:
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    return str(channel or body["user"]["id"])


def _private(body: dict[str, Any]) -> bool:
    """The button sits on an answer only its asker sees (an ephemeral `/cost` reply)."""
    return bool((body.get("container") or {}).get("is_ephemeral"))


def register(app: App, uc: UseCases, config: CostbotConfig) -> None:
    def answer_for(body: dict[str, Any]) -> tuple[str, CostAnswer]:
        """The button's question, answered for the day it was asked (so the dates are the ones shown)."""
        question, asked_on = unpin_question(str(body["actions"][0].get("value") or "").strip())
        parsed = uc.answers.parse(question)
        if not isinstance(parsed, Query):
            raise QueryError("this button carries no question")
        return question, uc.answers.answer(parsed, asked_on)

    @reported
    def share(body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        question, answer = answer_for(body)
        client.chat_postMessage(
            channel=_channel(body),
            blocks=answer_blocks.answer_blocks(answer, question, shared_by=body["user"]["id"]),
            text=answer_blocks.answer_fallback_text(answer),
        )

    @reported
    def chart(body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        """The chart of an answer: a private answer's to the asker's DM with costbot (it stays private until they
        press Share), a shared answer's into its conversation."""
        question, answer = answer_for(body)
        user = body["user"]["id"]
        png = stacked_daily_png(uc.answers.chart_series(answer))
        title = f"{answer.scope_label} · {answer.period.describe()}"
        name = chart_filename(answer.scope_label, answer.period.start, answer.period.end - timedelta(days=1),
                              answer.dimension)
        if _private(body):
            dm = client.conversations_open(users=user)["channel"]["id"]
            client.files_upload_v2(channel=dm, file=png, filename=name, title=title,
                                   initial_comment=f"`{question}` — only you can see this chart")
            respond(text="The chart is in your DM with costbot: your answer stays private until you share it.",
                    response_type="ephemeral", replace_original=False)
            return
        client.files_upload_v2(channel=_channel(body), file=png, filename=name, title=title,
                               initial_comment=f"<@{user}> asked for `{question}`")

    @reported
    def help_all(body: dict[str, Any], respond: Respond) -> None:
        respond(blocks=answer_blocks.full_help_blocks(list(config.teams)), text="Everything you can ask costbot",
                response_type="ephemeral", replace_original=False)

    @reported
    def home_ask(body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        question, answer = answer_for(body)
        client.chat_postMessage(channel=body["user"]["id"], blocks=answer_blocks.answer_blocks(answer, question),
                                text=answer_blocks.answer_fallback_text(answer))

    @reported
    def show_shared(body: dict[str, Any], respond: Respond) -> None:
        _, answer = answer_for(body)
        team = next((str(sc.key) for sc in answer.query.scopes if sc.kind == "team"), "")
        parts = uc.allocation.explain(team, answer.period.start, answer.period.end)
        respond(blocks=answer_blocks.shared_explanation_blocks(team, answer.period.describe(), parts,
                                                               config.currency),
                text=f"Shared costs of {team}", response_type="ephemeral", replace_original=False)

    @reported
    def show_ids(body: dict[str, Any], respond: Respond) -> None:
        _, answer = answer_for(body)
        respond(blocks=answer_blocks.resource_ids_blocks(answer), text="Resource ids", response_type="ephemeral",
                replace_original=False)

    app.action(ACTION_SHOW_SHARED)(ack=ack_now, lazy=[show_shared])
    app.action(ACTION_SHOW_IDS)(ack=ack_now, lazy=[show_ids])
    app.action(ACTION_SHARE)(ack=ack_now, lazy=[share])
    app.action(ACTION_CHART)(ack=ack_now, lazy=[chart])
    app.action(ACTION_HELP_ALL)(ack=ack_now, lazy=[help_all])
    app.action(re.compile(f"^{ACTION_HOME_ASK}"))(ack=ack_now, lazy=[home_ask])
