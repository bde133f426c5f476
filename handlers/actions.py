"""Buttons on recommendations and approval requests: Stop, Resize, Snapshot & delete, Snooze, Not mine, Approve,
Reject, Undo.
Each acks at once; the work runs in the background and the clicker hears back ephemerally."""

from __future__ import annotations

import hashlib
from typing import Any

from slack_bolt import App, Respond

from bot.config import CostbotConfig
from bot.domain.actions import ActionNotAllowed, ActionRequest
from bot.render import action_ids
from bot.render.action_blocks import outcome_text
from bot.render.anomaly_blocks import anomaly_blocks
from bot.render.common import notice_blocks
from bot.services.container import UseCases
from handlers.errors import ack_now, reported


def _action(body: dict[str, Any]) -> dict[str, Any]:
    actions = body.get("actions") or [{}]
    return actions[0] if isinstance(actions[0], dict) else {}


def _value(body: dict[str, Any]) -> str:
    return str(_action(body).get("value") or "")


def _number(body: dict[str, Any], what: str) -> int:
    """Approve, Reject, Undo, Acknowledge and Show details carry a number: anything else is refused."""
    value = _value(body)
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        raise ActionNotAllowed(f"this button does not carry {what}")
    return int(value)


def _user(body: dict[str, Any]) -> str:
    return str(body["user"]["id"])


def _source(body: dict[str, Any]) -> str | None:
    """What offered the button (the actions block's id: `rec:ID`, `anomaly:ID`)."""
    block = _action(body).get("block_id")
    return str(block) if block else None


def click_key(body: dict[str, Any]) -> str:
    """One click, whatever number of times its payload arrives (Slack's retries, replays): who, which
    button, which message, and Slack's own time of the click."""
    action = _action(body)
    container = body.get("container") or {}
    parts = (_user(body), str(action.get("action_id")), _value(body), str(action.get("block_id")),
             str(action.get("action_ts")), str(container.get("message_ts")))
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def register(app: App, uc: UseCases, config: CostbotConfig) -> None:
    currency = config.currency

    def tell(respond: Respond, text: str) -> None:
        respond(blocks=notice_blocks(text), text=text, response_type="ephemeral", replace_original=False)

    def tell_outcome(respond: Respond, req: ActionRequest) -> None:
        tell(respond, outcome_text(req, currency))

    @reported
    def stop(body: dict[str, Any], respond: Respond) -> None:
        tell_outcome(respond, uc.actions.request(_value(body), "stop", _user(body), source=_source(body),
                                                       click=click_key(body)))

    @reported
    def resize(body: dict[str, Any], respond: Respond) -> None:
        tell_outcome(respond, uc.actions.request(_value(body), "resize", _user(body), source=_source(body),
                                                       click=click_key(body)))

    @reported
    def delete(body: dict[str, Any], respond: Respond) -> None:
        tell_outcome(respond, uc.actions.request(_value(body), "delete", _user(body), source=_source(body),
                                                       click=click_key(body)))

    @reported
    def remind(body: dict[str, Any], respond: Respond) -> None:
        done = uc.actions.set_aside(_value(body), _user(body), "remind-next-run")
        tell(respond, ":bell: Dry run: nothing was tagged." if done else
             ":bell: Noted: this run is set aside, and its next run on on-demand capacity is offered spot again.")

    @reported
    def dismiss(body: dict[str, Any], respond: Respond) -> None:
        done = uc.actions.set_aside(_value(body), _user(body), "dismissed")
        tell(respond, ":no_bell: Dry run: nothing was tagged." if done else
             ":no_bell: Dismissed: costbot will not offer spot for this job or its later runs.")

    @reported
    def snooze(body: dict[str, Any], respond: Respond) -> None:
        done = uc.actions.snooze(_value(body), _user(body))
        if done.dry_run:
            tell(respond, f":zzz: Dry run: would tag {done.resource} costbot:snooze-until={done.until.isoformat()}; "
                          "nothing was changed.")
        else:
            tell(respond, f":zzz: Snoozed {done.resource} until {done.until.isoformat()} (tag costbot:snooze-until "
                          "on the resource).")

    @reported
    def not_mine(body: dict[str, Any], respond: Respond) -> None:
        where = uc.actions.not_mine(_value(body), _user(body))
        tell(respond, f"Thanks — moved to {where} for its owner to pick up.")

    @reported
    def approve(body: dict[str, Any], respond: Respond) -> None:
        tell_outcome(respond, uc.actions.approve(_number(body, "a request number"), _user(body)))

    @reported
    def reject(body: dict[str, Any], respond: Respond) -> None:
        tell_outcome(respond, uc.actions.reject(_number(body, "a request number"), _user(body)))

    @reported
    def undo(body: dict[str, Any], respond: Respond) -> None:
        tell_outcome(respond, uc.actions.undo(_number(body, "a request number"), _user(body),
                                                    click=click_key(body)))

    @reported
    def acknowledge(body: dict[str, Any], respond: Respond) -> None:
        anomaly = uc.anomalies.acknowledge(_number(body, "an anomaly number"), _user(body))
        tell(respond, f"Acknowledged the {anomaly.service} anomaly of {anomaly.day:%b %d} as expected.")

    @reported
    def details(body: dict[str, Any], respond: Respond) -> None:
        anomaly = uc.anomalies.anomaly(_number(body, "an anomaly number"))
        if anomaly is None:
            tell(respond, "That anomaly is no longer known.")
            return
        respond(blocks=anomaly_blocks(anomaly, {}, currency), text="Anomaly details",
                response_type="ephemeral", replace_original=False)

    for action_id, worker in ((action_ids.ACTION_ACKNOWLEDGE, acknowledge), (action_ids.ACTION_DETAILS, details),
                              (action_ids.ACTION_STOP, stop), (action_ids.ACTION_RESIZE, resize),
                              (action_ids.ACTION_DELETE, delete), (action_ids.ACTION_REMIND, remind),
                              (action_ids.ACTION_DISMISS, dismiss),
                              (action_ids.ACTION_SNOOZE, snooze), (action_ids.ACTION_NOT_MINE, not_mine),
                              (action_ids.ACTION_APPROVE, approve), (action_ids.ACTION_REJECT, reject),
                              (action_ids.ACTION_UNDO, undo)):
        app.action(action_id)(ack=ack_now, lazy=[worker])
