"""Buttons on answers and on App Home: Share in channel, Chart, and App Home's common questions."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from slack_bolt import App, Respond
from slack_sdk import WebClient

from bot.domain.errors import QueryError
from bot.domain.query import HelpRequest
from bot.render import blocks
from bot.render.charts import stacked_daily_png
from handlers.errors import ack_now, reported

if TYPE_CHECKING:
    from bot.app import Services
    from bot.domain.answers import CostAnswer


def _channel(body: dict[str, Any]) -> str:
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    return str(channel or body["user"]["id"])


def register(app: App, services: Services) -> None:
    def answer_for(body: dict[str, Any]) -> tuple[str, CostAnswer]:
        question = str(body["actions"][0].get("value") or "").strip()
        result = services.answers.ask(question)
        if isinstance(result, HelpRequest):
            raise QueryError("this button carries no question")
        return question, result

    @reported
    def share(body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        question, answer = answer_for(body)
        client.chat_postMessage(
            channel=_channel(body),
            blocks=blocks.answer_blocks(answer, question, shared_by=body["user"]["id"]),
            text=blocks.answer_fallback_text(answer),
        )

    @reported
    def chart(body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        question, answer = answer_for(body)
        png = stacked_daily_png(services.costs.chart_series(answer))
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
        client.chat_postMessage(channel=body["user"]["id"], blocks=blocks.answer_blocks(answer, question),
                                text=blocks.answer_fallback_text(answer))

    @reported
    def show_shared(body: dict[str, Any], respond: Respond) -> None:
        _, answer = answer_for(body)
        team = next((str(sc.key) for sc in answer.query.scopes if sc.kind == "team"), "")
        parts = services.answers.explain(team, answer.period.start, answer.period.end)
        respond(blocks=blocks.shared_explanation_blocks(team, answer.period.describe(), parts,
                                                        services.config.currency),
                text=f"Shared costs of {team}", response_type="ephemeral", replace_original=False)

    app.action(blocks.ACTION_SHOW_SHARED)(ack=ack_now, lazy=[show_shared])
    app.action(blocks.ACTION_SHARE)(ack=ack_now, lazy=[share])
    app.action(blocks.ACTION_CHART)(ack=ack_now, lazy=[chart])
    app.action(re.compile(f"^{blocks.ACTION_HOME_ASK}"))(ack=ack_now, lazy=[home_ask])
