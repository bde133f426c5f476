"""Action requests and their state machine: requested -> approved -> executing -> succeeded | failed | refused,
or requested -> rejected | expired. Every transition is checked here; stores persist them with guards."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, get_args

from bot.domain.errors import CostbotError

ActionKind = Literal["stop", "start", "resize", "snooze", "delete", "restore"]
Status = Literal["requested", "approved", "executing", "succeeded", "failed", "refused", "rejected", "expired"]
ACTION_KINDS: tuple[ActionKind, ...] = get_args(ActionKind)
STATUSES: tuple[Status, ...] = get_args(Status)

TRANSITIONS: dict[Status, tuple[Status, ...]] = {
    "requested": ("approved", "rejected", "expired"),
    "approved": ("executing", "expired"),
    "executing": ("succeeded", "failed", "refused"),
    "succeeded": (),
    "failed": (),
    "refused": (),
    "rejected": (),
    "expired": (),
}
FINAL: tuple[Status, ...] = tuple(s for s, nxt in TRANSITIONS.items() if not nxt)
OPEN: tuple[Status, ...] = tuple(s for s, nxt in TRANSITIONS.items() if nxt)  # at most one per resource


class ActionNotAllowed(CostbotError):
    """The user may not do this, or the request is not in a state that allows it."""


def check_transition(current: str, new: str) -> None:
    """Refuse a move the state machine does not have."""
    if new not in next((nxt for s, nxt in TRANSITIONS.items() if s == current), ()):
        raise ActionNotAllowed(f"this request is already {current}; it cannot become {new}")


def sources_of(target: Status) -> tuple[Status, ...]:
    """The states a request may move to `target` from: what a conditional update may expect."""
    return tuple(s for s, nxt in TRANSITIONS.items() if target in nxt)


def action_kind(action: str) -> ActionKind:
    """An action named by a button or a caller, checked against the ones there are."""
    for kind in ACTION_KINDS:
        if kind == action:
            return kind
    raise ActionNotAllowed(f"'{action}' is not an action costbot knows")


def status_of(value: str) -> Status:
    for status in STATUSES:
        if status == value:
            return status
    raise ValueError(f"unknown action request status {value!r}")


@dataclass(frozen=True)
class ActionRequest:
    id: int
    resource_key: str
    action: ActionKind
    team: str | None
    requested_by: str
    status: Status
    created_at: datetime
    expires_at: datetime
    params: dict[str, str] = field(default_factory=dict)  # resize: {"to": "g5.2xlarge", "from": "g5.12xlarge"}
    approved_by: str | None = None
    result: str | None = None
    error: str | None = None
    channel: str | None = None  # the message that offered the action, updated in place
    message_ts: str | None = None
    undo_of: int | None = None
    updated_at: datetime | None = None  # its last state change

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at and self.status in sources_of("expired")


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    resource_key: str
    before: str | None
    after: str | None
    result: str
    error: str | None = None
    request_id: int | None = None
    dry_run: bool = False
    detail: str | None = None  # a cloud error's own text, for operators (never shown in Slack)
