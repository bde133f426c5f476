"""Off-hours schedules in Slack: the heads-up posted once and updated in place after each click, and the stop's
report."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.adapters.slack_actions import slack_call
from bot.domain.schedules import HeadsUp, NightReport
from bot.render import schedule_blocks


class SlackScheduleNotifier:
    def __init__(self, client: Any, resolve_channel: Callable[[str], str]) -> None:
        self.client = client
        self.resolve_channel = resolve_channel

    @slack_call
    def post_heads_up(self, channel: str, heads_up: HeadsUp) -> tuple[str, str]:
        resp = self.client.chat_postMessage(channel=self.resolve_channel(channel),
                                            blocks=schedule_blocks.heads_up_blocks(heads_up),
                                            text=schedule_blocks.heads_up_text(heads_up))
        return str(resp["channel"]), str(resp["ts"])

    @slack_call
    def update_heads_up(self, channel: str, ts: str, heads_up: HeadsUp) -> None:
        self.client.chat_update(channel=channel, ts=ts, blocks=schedule_blocks.heads_up_blocks(heads_up),
                                text=schedule_blocks.heads_up_text(heads_up))

    @slack_call
    def post_night_report(self, channel: str, report: NightReport) -> None:
        self.client.chat_postMessage(channel=self.resolve_channel(channel),
                                     blocks=schedule_blocks.night_report_blocks(report),
                                     text=schedule_blocks.night_report_text(report))

