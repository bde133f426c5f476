"""Budget alerts and anomaly alerts in Slack."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from bot.domain.anomalies import Anomaly
from bot.domain.budgets import BudgetStatus, Threshold
from bot.render import anomaly_blocks, budget_blocks


class SlackInsightNotifier:
    def __init__(self, client: Any, resolve_channel: Callable[[str], str], currency: str = "USD") -> None:
        self.client = client
        self.resolve_channel = resolve_channel
        self.currency = currency

    def post_budget_alert(self, channel: str, status: BudgetStatus, threshold: Threshold) -> None:
        self.client.chat_postMessage(channel=self.resolve_channel(channel),
                                     blocks=budget_blocks.budget_alert_blocks(status, threshold),
                                     text=f"{status.scope} reached {threshold.label()}")

    def post_budget_change(self, channel: str, scope: str, before: Decimal | None, after: Decimal,
                           user: str) -> None:
        self.client.chat_postMessage(channel=self.resolve_channel(channel),
                                     blocks=budget_blocks.budget_change_blocks(scope, before, after, user,
                                                                               self.currency),
                                     text=f"The {scope} budget was changed")

    def post_anomaly(self, channel: str, anomaly: Anomaly, actionable: dict[str, str]) -> tuple[str, str]:
        resp = self.client.chat_postMessage(channel=self.resolve_channel(channel),
                                            blocks=anomaly_blocks.anomaly_blocks(anomaly, actionable, self.currency),
                                            text=f"Cost anomaly: {anomaly.team} {anomaly.service}")
        return str(resp["channel"]), str(resp["ts"])

    def update_anomaly(self, channel: str, ts: str, anomaly: Anomaly, actionable: dict[str, str],
                       acknowledged_by: str | None) -> None:
        self.client.chat_update(channel=channel, ts=ts, text=f"Cost anomaly: {anomaly.team} {anomaly.service}",
                                blocks=anomaly_blocks.anomaly_blocks(anomaly, actionable, self.currency,
                                                                     acknowledged_by))
