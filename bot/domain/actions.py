"""Action requests and their state machine: requested -> approved -> executing -> succeeded | failed | refused,
or requested -> rejected | expired. Every transition is checked here; stores persist them with guards."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from bot.domain.errors import CostbotError

ActionKind = Literal["stop", "start", "resize", "snooze"]
Status = Literal["requested", "approved", "executing", "succeeded", "failed", "refused", "rejected", "expired"]

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "requested": ("approved", "rejected", "expired"),
    "approved": ("executing", "expired"),
    "executing": ("succeeded", "failed", "refused"),
    "succeeded": (),
    "failed": (),
    "refused": (),
    "rejected": (),
    "expired": (),
}
FINAL = tuple(s for s, nxt in TRANSITIONS.items() if not nxt)
OPEN = tuple(s for s, nxt in TRANSITIONS.items() if nxt)  # a resource has at most one request in these


class ActionNotAllowed(CostbotError):
    """The user may not do this, or the request is not in a state that allows it."""


def check_transition(current: str, new: str) -> None:
    if new not in TRANSITIONS.get(current, ()):
        raise ActionNotAllowed(f"this request is already {current}; it cannot become {new}")


@dataclass(frozen=True)
class ActionRequest:
    id: int
    resource_key: str
    action: str  # stop | start | resize | snooze
    team: str | None
    requested_by: str
    status: str
    created_at: datetime
    expires_at: datetime
    params: dict[str, str] = field(default_factory=dict)  # resize: {"to": "g5.2xlarge", "from": "g5.12xlarge"}
    approved_by: str | None = None
    result: str | None = None
    error: str | None = None
    channel: str | None = None  # the message that offered the action, updated in place
    message_ts: str | None = None
    undo_of: int | None = None

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at and self.status in ("requested", "approved")


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
