"""The requests Slack sends an app, built and signed the way Slack builds and signs them: slash commands and
block_actions as forms, events as JSON, each with `X-Slack-Request-Timestamp` and `X-Slack-Signature`
(HMAC-SHA256 of `v0:{timestamp}:{body}` with the app's signing secret)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

TEAM = {"id": "T0PLAYGRND", "domain": "playground"}
APP_ID = "A0COSTBOT"


@dataclass(frozen=True)
class SignedRequest:
    body: bytes
    headers: dict[str, str]


def signature(secret: str, timestamp: str, body: bytes) -> str:
    base = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, content_type: str, now: float | None = None) -> SignedRequest:
    timestamp = str(int(now if now is not None else time.time()))
    return SignedRequest(body, {"Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp,
                                "X-Slack-Signature": signature(secret, timestamp, body)})


def slash_command(text: str, user: str, channel: str, channel_name: str, response_url: str,
                  trigger_id: str) -> bytes:
    fields = {"token": "playground", "team_id": TEAM["id"], "team_domain": TEAM["domain"], "channel_id": channel,
              "channel_name": channel_name, "user_id": user, "user_name": user.lower(), "command": "/cost",
              "text": text, "response_url": response_url, "trigger_id": trigger_id, "api_app_id": APP_ID}
    return urllib.parse.urlencode(fields).encode()


def block_actions(action: dict[str, Any], user: str, container: dict[str, Any], response_url: str | None,
                  trigger_id: str, message: dict[str, Any] | None = None, view: dict[str, Any] | None = None) -> bytes:
    """A button click: `container` says where the button was (a message, possibly ephemeral, or a view);
    a click in App Home carries the view and no response_url, as in Slack."""
    payload: dict[str, Any] = {"type": "block_actions", "user": {"id": user, "username": user.lower()},
                               "api_app_id": APP_ID, "team": TEAM, "container": container,
                               "trigger_id": trigger_id, "actions": [action]}
    if container.get("channel_id"):
        payload["channel"] = {"id": container["channel_id"]}
    if response_url:
        payload["response_url"] = response_url
    if message is not None:
        payload["message"] = message
    if view is not None:
        payload["view"] = view
    return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()


def event(inner: dict[str, Any], event_id: str) -> bytes:
    return json.dumps({"token": "playground", "team_id": TEAM["id"], "api_app_id": APP_ID, "type": "event_callback",
                       "event_id": event_id, "event_time": int(time.time()), "event": inner}).encode()


def post(url: str, request: SignedRequest, timeout: float = 10.0) -> tuple[int, bytes]:
    """POST a signed request; returns the status and body (an HTTP error status is an answer, not raised)."""
    sent = urllib.request.Request(url, data=request.body, headers=request.headers, method="POST")
    try:
        with urllib.request.urlopen(sent, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
