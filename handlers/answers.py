"""Buttons on answers and on App Home: Share in channel, Chart, Show shared, Resource ids, and App Home's common
questions."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import App, Respond
from slack_sdk import WebClient

from bot.config import CostbotConfig
from bot.domain.answers import CostAnswer
from bot.domain.errors import QueryError
from bot.domain.query import Query
from bot.render import answer_blocks
from bot.render.action_ids import ACTION_CHART, ACTION_HOME_ASK, ACTION_SHARE, ACTION_SHOW_IDS, ACTION_SHOW_SHARED
from bot.render.charts import stacked_daily_png
from bot.services.container import UseCases
from handlers.errors import ack_now, reported


def _channel(body: dict[str, Any]) -> str:
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    return str(channel or body["user"]["id"])


def register(app: App, uc: UseCases, config: CostbotConfig) -> None:
    def answer_for(body: dict[str, Any]) -> tuple[str, CostAnswer]:
        question = str(body["actions"][0].get("value") or "").strip()
        parsed = uc.answers.parse(question)
        if not isinstance(parsed, Query):
            raise QueryError("this button carries no question")
        return question, uc.answers.answer(parsed)

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
        question, answer = answer_for(body)
        png = stacked_daily_png(uc.answers.chart_series(answer))
        client.files_upload_v2(
            channel=_channel(body),
            file=png,
            filename="costbot-chart.png",
            title=f"{answer.scope_label} · {answer.period.describe()}",
            initial_comment=f"<@{body['user']['id']}> asked for `{question}`",
        )

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
    app.action(re.compile(f"^{ACTION_HOME_ASK}"))(ack=ack_now, lazy=[home_ask])
