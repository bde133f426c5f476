"""Buttons on recommendations and approval requests: Stop, Resize, Snooze, Not mine, Approve, Reject, Undo.
Each acks at once; the work runs in the background and the clicker hears back ephemerally."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt import App, Respond

from bot.domain.actions import ActionRequest
from bot.render import blocks, insight_blocks
from bot.render.action_blocks import outcome_text
from handlers.errors import ack_now, reported

if TYPE_CHECKING:
    from bot.app import Services


def _value(body: dict[str, Any]) -> str:
    return str(body["actions"][0].get("value") or "")


def _user(body: dict[str, Any]) -> str:
    return str(body["user"]["id"])


def register(app: App, services: Services) -> None:
    currency = services.config.currency

    def tell(respond: Respond, text: str) -> None:
        respond(blocks=blocks.notice_blocks(text), text=text, response_type="ephemeral", replace_original=False)

    def tell_outcome(respond: Respond, req: ActionRequest) -> None:
        tell(respond, outcome_text(req, currency))

    @reported
    def stop(body: dict[str, Any], respond: Respond) -> None:
        tell_outcome(respond, services.actions.request(_value(body), "stop", _user(body)))

    @reported
    def resize(body: dict[str, Any], respond: Respond) -> None:
        tell_outcome(respond, services.actions.request(_value(body), "resize", _user(body)))

    @reported
    def snooze(body: dict[str, Any], respond: Respond) -> None:
        until = services.actions.snooze(_value(body), _user(body))
        tell(respond, f":zzz: Snoozed until {until.isoformat()} (tag costbot:snooze-until on the resource).")

    @reported
    def not_mine(body: dict[str, Any], respond: Respond) -> None:
        where = services.actions.not_mine(_value(body), _user(body))
        tell(respond, f"Thanks — moved to {where} for its owner to pick up.")

    @reported
    def approve(body: dict[str, Any], respond: Respond) -> None:
        tell_outcome(respond, services.actions.approve(int(_value(body)), _user(body)))

    @reported
    def reject(body: dict[str, Any], respond: Respond) -> None:
        tell_outcome(respond, services.actions.reject(int(_value(body)), _user(body)))

    @reported
    def undo(body: dict[str, Any], respond: Respond) -> None:
        tell_outcome(respond, services.actions.undo(int(_value(body)), _user(body)))

    @reported
    def acknowledge(body: dict[str, Any], respond: Respond) -> None:
        anomaly = services.insights.acknowledge(int(_value(body)), _user(body))
        tell(respond, f"Acknowledged the {anomaly.service} anomaly of {anomaly.day:%b %d} as expected.")

    @reported
    def details(body: dict[str, Any], respond: Respond) -> None:
        anomaly = services.insights.store.anomaly(int(_value(body)))
        if anomaly is None:
            tell(respond, "That anomaly is no longer known.")
            return
        respond(blocks=insight_blocks.anomaly_blocks(anomaly, {}, currency), text="Anomaly details",
                response_type="ephemeral", replace_original=False)

    for action_id, worker in ((insight_blocks.ACTION_ACKNOWLEDGE, acknowledge),
                              (insight_blocks.ACTION_DETAILS, details), (blocks.ACTION_STOP, stop),
                              (blocks.ACTION_RESIZE, resize),
                              (blocks.ACTION_SNOOZE, snooze), (blocks.ACTION_NOT_MINE, not_mine),
                              (blocks.ACTION_APPROVE, approve), (blocks.ACTION_REJECT, reject),
                              (blocks.ACTION_UNDO, undo)):
        app.action(action_id)(ack=ack_now, lazy=[worker])
