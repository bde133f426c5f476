"""Recommendations and approvals in Slack: messages posted once and updated in place (chat.update)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from slack_sdk.errors import SlackClientError

from bot.domain.actions import ActionRequest
from bot.domain.errors import NotifyError
from bot.domain.recommendations import Recommendation, RecommendationView
from bot.render import action_blocks

F = TypeVar("F", bound=Callable[..., Any])


def slack_call(method: F) -> F:
    """Slack failures (after the client's retries) become NotifyError: the caller keeps its state and says so."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except (SlackClientError, OSError) as exc:
            raise NotifyError(f"Slack could not be reached ({type(exc).__name__})") from exc

    return wrapper  # type: ignore[return-value]


class SlackActionNotifier:
    def __init__(self, client: Any, resolve_channel: Callable[[str], str], currency: str = "USD",
                 approvers_of: Callable[[str | None], list[str]] | None = None, snooze_days: int = 7) -> None:
        self.client = client
        self.resolve_channel = resolve_channel
        self.currency = currency
        self.approvers_of = approvers_of or (lambda team: [])
        self.snooze_days = snooze_days

    @slack_call
    def post_recommendations(self, channel: str, team: str | None,
                             rows: Sequence[RecommendationView]) -> tuple[str, str]:
        blocks = action_blocks.recommendations_blocks(team, rows, self.currency, self.snooze_days)
        many = "s" if len(rows) != 1 else ""
        resp = self.client.chat_postMessage(channel=self.resolve_channel(channel), blocks=blocks,
                                            text=f"Ways to save for {team or 'no owner'}: {len(rows)} resource{many}")
        return str(resp["channel"]), str(resp["ts"])

    @slack_call
    def update_recommendations(self, channel: str, ts: str, team: str | None,
                               rows: Sequence[RecommendationView]) -> None:
        blocks = action_blocks.recommendations_blocks(team, rows, self.currency, self.snooze_days)
        self.client.chat_update(channel=channel, ts=ts, blocks=blocks,
                                text=f"Ways to save for {team or 'no owner'}")

    @slack_call
    def post_approval_request(self, channel: str, request: ActionRequest, recommendation: Recommendation | None,
                              approvers: Sequence[str]) -> tuple[str, str]:
        blocks = action_blocks.approval_blocks(request, recommendation, approvers, self.currency)
        resp = self.client.chat_postMessage(channel=self.resolve_channel(channel), blocks=blocks,
                                            text=f"<@{request.requested_by}> asks to {request.action} a resource")
        return str(resp["channel"]), str(resp["ts"])

    @slack_call
    def update_approval_request(self, request: ActionRequest, recommendation: Recommendation | None) -> None:
        if not request.channel or not request.message_ts:
            return
        blocks = action_blocks.approval_blocks(request, recommendation, self.approvers_of(request.team),
                                               self.currency)
        self.client.chat_update(channel=request.channel, ts=request.message_ts, blocks=blocks,
                                text=f"Request to {request.action}: {request.status}")
