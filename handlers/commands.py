"""`/cost`: ack inside the request, then parse, call one service, render, respond (ephemeral)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from slack_bolt import App, Respond

from bot.domain.query import (
    AnomaliesCommand,
    AuditCommand,
    BudgetCommand,
    DigestCommand,
    HelpRequest,
    IdleCommand,
    TagsCommand,
)
from bot.render import action_blocks, blocks, insight_blocks
from handlers.errors import ack_now, reported

if TYPE_CHECKING:
    from bot.app import Services

#: Bolt's `respond` (or anything with its keyword arguments)
Responder = Callable[..., Any]


def _digest(services: Services, cmd: DigestCommand, channel: str, user: str, respond: Responder) -> None:
    """Digest subcommands always act on the channel the command was typed in, never on one named in the text."""
    digests = services.digests
    if cmd.action == "list":
        message = blocks.subscription_blocks(digests.subscriptions(channel), channel)
    elif cmd.action == "subscribe":
        message = blocks.subscribed_blocks(digests.subscribe_as(user, channel, cmd.scope, list(cmd.when)))
    elif cmd.action == "unsubscribe":
        removed = digests.unsubscribe_as(user, channel, cmd.scope)
        message = blocks.notice_blocks(
            f"Unsubscribed <#{channel}> from the *{cmd.scope}* digest." if removed
            else f"<#{channel}> has no *{cmd.scope}* digest. `/cost digest list` shows what it has.")
    else:
        cadence = "weekly" if cmd.when and cmd.when[0].lower() == "weekly" else "daily"
        digests.post_now_as(user, channel, cmd.scope, cadence)
        message = blocks.notice_blocks(f"Posted the *{cmd.scope or 'all teams'}* {cadence} digest here.")
    if services.scheduler is not None and cmd.action in ("subscribe", "unsubscribe"):
        services.scheduler.refresh()
    respond(blocks=message, text="costbot digests", response_type="ephemeral")


def dispatch(services: Services, text: str, user: str, channel: str, respond: Responder) -> None:
    """One `/cost` command: parse the text, call one service, render, respond. Raises CostbotError for any
    problem with what the user typed (the caller turns it into a message)."""
    text = text.strip()
    if not text:
        teams = services.config.teams_of(user)
        texts = [f"{team} last-7d" for team in teams[:3]] or ["last-7d"]
    else:
        texts = [text]
    for question in texts:
        parsed = services.costs.parse(question)
        if isinstance(parsed, HelpRequest):
            respond(blocks=blocks.help_blocks(list(services.config.teams)), text="How to ask costbot",
                    response_type="ephemeral")
        elif isinstance(parsed, DigestCommand):
            _digest(services, parsed, channel, user, respond)
        elif isinstance(parsed, IdleCommand):
            owned: list[str | None] = [parsed.team] if parsed.team else list(services.config.teams_of(user))
            for team in owned or [None]:
                rows = services.actions.open_views(team)
                respond(blocks=action_blocks.recommendations_blocks(team or "all teams", rows,
                                                                    services.config.currency,
                                                                    services.config.rules.snooze_days),
                        text=f"{len(rows)} open recommendations", response_type="ephemeral")
        elif isinstance(parsed, BudgetCommand):
            scopes = [parsed.scope] if parsed.scope else list(services.config.teams_of(user))
            if parsed.amount is not None:
                services.insights.set_budget(parsed.scope, parsed.amount, user)
            if not scopes:
                scopes = services.insights.budgeted_scopes()[:5]
            for scope in scopes:
                status = services.insights.status(scope)
                respond(blocks=insight_blocks.budget_blocks(status), text=f"Budget for {scope}",
                        response_type="ephemeral")
        elif isinstance(parsed, TagsCommand):
            report = services.compliance.report(parsed.period)
            respond(blocks=insight_blocks.compliance_blocks(report), text="Tag compliance",
                    response_type="ephemeral")
        elif isinstance(parsed, AnomaliesCommand):
            found = services.insights.recent(parsed.team)
            respond(blocks=insight_blocks.anomalies_list_blocks(found, services.config.currency),
                    text=f"{len(found)} anomalies", response_type="ephemeral")
        elif isinstance(parsed, AuditCommand):
            respond(blocks=action_blocks.audit_blocks(services.actions.audit(parsed.limit)),
                    text="Recent actions", response_type="ephemeral")
        else:
            result = services.answers.answer(parsed)
            respond(blocks=blocks.answer_blocks(result, question), text=blocks.answer_fallback_text(result),
                    response_type="ephemeral")


def register(app: App, services: Services) -> None:
    @reported
    def answer(command: dict[str, Any], body: dict[str, Any], respond: Respond) -> None:
        dispatch(services, str(command.get("text") or ""), str(command.get("user_id") or ""),
                 str(command.get("channel_id") or ""), respond)

    # the ack runs inside the HTTP request (Slack wants it within 3 s); the answer follows via response_url
    app.command("/cost")(ack=ack_now, lazy=[answer])
