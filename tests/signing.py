"""Signed Slack requests, byte for byte as Slack sends them: HMAC-SHA256 over `v0:{timestamp}:{raw body}`."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse
import urllib.request
from typing import Any

_CLICKS = 0


def signature(secret: str, timestamp: str, body: bytes) -> str:
    base = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def command_body(text: str, response_url: str, user_id: str = "U0ML00001", channel_id: str = "C111",
                 command: str = "/cost") -> bytes:
    fields = {
        "token": "legacy-token", "team_id": "T111", "team_domain": "acme", "channel_id": channel_id,
        "channel_name": "team-ml", "user_id": user_id, "user_name": "someone", "command": command, "text": text,
        "response_url": response_url, "trigger_id": "111.222.abc", "api_app_id": "A111",
    }
    return urllib.parse.urlencode(fields).encode()


def actions_body(action_id: str, value: str, response_url: str, user_id: str = "U0ML00001",
                 channel_id: str = "C111", block_id: str = "b1", action_ts: str | None = None,
                 ephemeral: bool = True) -> bytes:
    """A block_actions payload; each call is a new click (its own action_ts) unless `action_ts` is given. The
    button sits on an ephemeral message (a `/cost` answer) unless `ephemeral` is False (a shared one)."""
    global _CLICKS
    _CLICKS += 1
    payload = {
        "type": "block_actions", "user": {"id": user_id}, "api_app_id": "A111", "team": {"id": "T111"},
        "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": channel_id,
                      "is_ephemeral": ephemeral},
        "trigger_id": "111.222.def", "channel": {"id": channel_id}, "response_url": response_url,
        "actions": [{"action_id": action_id, "block_id": block_id, "value": value, "type": "button",
                     "action_ts": action_ts or f"{time.time():.6f}{_CLICKS:06d}"}],
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()


def event_body(event: dict[str, Any]) -> bytes:
    return json.dumps({"token": "legacy", "team_id": "T111", "api_app_id": "A111", "type": "event_callback",
                       "event_id": "Ev1", "event_time": int(time.time()), "event": event}).encode()


def post(url: str, body: bytes, secret: str | None, timestamp: int | None = None,
         content_type: str = "application/x-www-form-urlencoded", tamper: bool = False) -> tuple[int, bytes]:
    """POST to the bot; `secret=None` sends no signature at all."""
    ts = str(timestamp if timestamp is not None else int(time.time()))
    headers = {"Content-Type": content_type}
    if secret is not None:
        headers["X-Slack-Request-Timestamp"] = ts
        headers["X-Slack-Signature"] = signature(secret, ts, body)
    sent = body + b"&x=1" if tamper else body
    request = urllib.request.Request(url, data=sent, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
