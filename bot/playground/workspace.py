"""The Slack side of the playground: its channels, people, messages, files and App Home views, and the Web API
methods costbot calls, answered the way Slack answers them (same arguments, same reply shapes, same errors for
a bad token or an unknown message).

Everything the page shows is read from here (`snapshot`); each change bumps `seq`, and `wait` lets the page's
long poll sleep until the next one.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import re
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

log = logging.getLogger("costbot.playground")

BOT_USER = "UCOSTBOT0"
BOT_NAME = "costbot"
PLAYER = "U0ANALYST"  # someone with no approvals: the demo's non-approver
RECENT_CALLS = 30  # Web API calls the page lists
CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{6,}")  # a config may name a channel by its id

#: every Web API method the stand-in answers (tests/integration/test_playground_protocol.py checks each one
#: costbot's code calls is here)
WEB_API_METHODS = (
    "auth.test", "chat.postMessage", "chat.update", "chat.postEphemeral", "chat.delete", "conversations.list",
    "conversations.open", "files.getUploadURLExternal", "files.completeUploadExternal", "views.publish",
    "users.info",
)


class SlackApiError(Exception):
    """A Web API call Slack would refuse: answered `{"ok": false, "error": code}` like Slack."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    role: str


@dataclass
class Message:
    ts: str
    channel: str
    user: str
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, str]] = field(default_factory=list)
    ephemeral_to: str | None = None  # "only visible to you"
    edited: int = 0  # how many times chat.update / replace_original replaced it


@dataclass(frozen=True)
class ResponseTarget:
    """What a response_url answers: the conversation, the person it was issued to and, for a click, the
    message the button was on (so `replace_original` / `delete_original` know what to change)."""

    channel: str
    user: str
    message_ts: str | None = None


@dataclass
class Upload:
    name: str
    title: str
    data: bytes = b""


def channel_id(name: str) -> str:
    """A stable Slack-shaped id for a channel name (C + 10 upper-case hex digits); a channel id stays itself."""
    if CHANNEL_ID.fullmatch(name):
        return name
    return "C" + hashlib.sha256(name.encode()).hexdigest()[:10].upper()


def dm_id(user: str) -> str:
    """The id of a person's DM with costbot."""
    return "D" + hashlib.sha256(user.encode()).hexdigest()[:10].upper()


def decode_args(query: str, content_type: str, raw: bytes) -> dict[str, Any]:
    """A Web API call's arguments, from the query string, a form or a JSON body; `blocks`, `files` and `view`
    sent as JSON text in a form are parsed, as Slack does."""
    args: dict[str, Any] = {k: v[0] for k, v in urllib.parse.parse_qs(query, keep_blank_values=True).items()}
    if raw and "json" in content_type:
        body = json.loads(raw)
        if isinstance(body, dict):
            args.update(body)
    elif raw:
        args.update({k: v[0] for k, v in urllib.parse.parse_qs(raw.decode(), keep_blank_values=True).items()})
    for key in ("blocks", "files", "view", "attachments"):
        if isinstance(args.get(key), str) and args[key]:
            args[key] = json.loads(args[key])
    return args


class Workspace:
    """One Slack workspace with costbot installed: the state the page shows and the Web API it answers."""

    def __init__(self, channels: list[str], people: list[Person], token: str, base_url: str) -> None:
        """`channels` by name (no `#`); `base_url` is where this workspace's upload, response and file URLs live."""
        self.token = token
        self.base_url = base_url.rstrip("/")
        self.channels = {channel_id(name): name for name in dict.fromkeys(channels)}  # an id given keeps it
        self.people = {p.id: p for p in people}
        self.messages: list[Message] = []
        self.homes: dict[str, dict[str, Any]] = {}
        self.files: dict[str, Upload] = {}
        self.calls: list[str] = []  # Web API methods called, in order
        self.seq = 0
        self._responses: dict[str, ResponseTarget] = {}
        self._ids = itertools.count(1)
        self._clock = time.time()
        self._changed = threading.Condition()

    # -- the page's side -----------------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        with self._changed:
            return {
                "seq": self.seq,
                "channels": [{"id": cid, "name": name} for cid, name in self.channels.items()],
                "dms": {uid: dm_id(uid) for uid in self.people},
                "people": [asdict(p) for p in self.people.values()],
                "bot": {"id": BOT_USER, "name": BOT_NAME},
                "messages": [asdict(m) for m in self.messages],
                "homes": dict(self.homes),
                "calls": self.calls[-RECENT_CALLS:],
            }

    def wait(self, after: int, timeout: float) -> None:
        """Returns once `seq` has moved past `after`, or after `timeout` seconds."""
        with self._changed:
            self._changed.wait_for(lambda: self.seq > after, timeout=timeout)

    def say(self, channel: str, user: str, text: str, ephemeral_to: str | None = None) -> Message:
        """A line the page adds itself (the command as typed, an error reaching the app)."""
        return self._post(Message(self._ts(), channel, user, text, ephemeral_to=ephemeral_to))

    def response_url(self, target: ResponseTarget) -> str:
        """A response_url for a slash command or a click, as Slack hands one with each request."""
        rid = f"R{next(self._ids):06d}"
        with self._changed:
            self._responses[rid] = target
        return f"{self.base_url}/response/{rid}"

    def message(self, channel: str, ts: str) -> Message | None:
        with self._changed:
            return next((m for m in self.messages if m.channel == channel and m.ts == ts), None)

    def person(self, user: str) -> Person:
        if user not in self.people:
            raise SlackApiError("user_not_found")
        return self.people[user]

    # -- Slack's side: the Web API, response_url and uploads --------------------------------------------------------
    def call(self, method: str, args: dict[str, Any], authorization: str) -> dict[str, Any]:
        """One Web API call, answered as Slack would (`ok` false with Slack's error code when refused)."""
        with self._changed:
            self.calls.append(method[:80])
        if authorization != f"Bearer {self.token}":
            return {"ok": False, "error": "invalid_auth" if authorization else "not_authed"}
        handler: Callable[[dict[str, Any]], dict[str, Any]] | None = {
            "auth.test": self._auth_test, "chat.postMessage": self._post_message, "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral, "chat.delete": self._delete,
            "conversations.list": self._conversations_list, "conversations.open": self._conversations_open,
            "files.getUploadURLExternal": self._upload_url, "files.completeUploadExternal": self._complete_upload,
            "views.publish": self._views_publish, "users.info": self._users_info,
        }.get(method)
        if handler is None:
            log.warning("the playground does not answer the Web API method %s (Slack would): costbot got "
                        "unknown_method", method[:80])
            return {"ok": False, "error": "unknown_method"}
        try:
            return {"ok": True, **handler(args)}
        except SlackApiError as exc:
            return {"ok": False, "error": exc.code}

    def respond(self, rid: str, payload: dict[str, Any]) -> bool:
        """A POST to a response_url: a new message (ephemeral unless `response_type` is in_channel), or the
        clicked message replaced or deleted. False for an unknown response_url."""
        with self._changed:
            target = self._responses.get(rid)
        if target is None:
            return False
        blocks, text = _blocks(payload), str(payload.get("text") or "")
        if payload.get("delete_original") and target.message_ts:
            self._remove(target.channel, target.message_ts)
        elif payload.get("replace_original") and target.message_ts:
            self._replace(target.channel, target.message_ts, text, blocks)
        else:
            private = payload.get("response_type") != "in_channel"
            self._post(Message(self._ts(), target.channel, BOT_USER, text, blocks,
                               ephemeral_to=target.user if private else None))
        return True

    def upload(self, file_id: str, data: bytes) -> bool:
        with self._changed:
            pending = self.files.get(file_id)
            if pending is None:
                return False
            pending.data = data
        return True

    def file(self, file_id: str) -> Upload | None:
        with self._changed:
            return self.files.get(file_id)

    # -- the methods --------------------------------------------------------------------------------------------
    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"url": f"{self.base_url}/", "team": "Playground", "user": BOT_NAME, "team_id": "T0PLAYGRND",
                "user_id": BOT_USER, "bot_id": "B0COSTBOT"}

    def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._conversation(args.get("channel"))
        message = self._post(Message(self._ts(), channel, BOT_USER, _text(args), _blocks(args)))
        return {"channel": channel, "ts": message.ts, "message": {"text": message.text, "ts": message.ts}}

    def _post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._conversation(args.get("channel"))
        user = self.person(str(args.get("user") or "")).id
        message = self._post(Message(self._ts(), channel, BOT_USER, _text(args), _blocks(args), ephemeral_to=user))
        return {"message_ts": message.ts}

    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = self._conversation(args.get("channel")), str(args.get("ts") or "")
        if not self._replace(channel, ts, _text(args), _blocks(args)):
            raise SlackApiError("message_not_found")
        return {"channel": channel, "ts": ts, "text": _text(args)}

    def _delete(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = self._conversation(args.get("channel")), str(args.get("ts") or "")
        if not self._remove(channel, ts):
            raise SlackApiError("message_not_found")
        return {"channel": channel, "ts": ts}

    def _conversations_list(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"channels": [{"id": cid, "name": name, "is_channel": True, "is_archived": False}
                             for cid, name in self.channels.items()],
                "response_metadata": {"next_cursor": ""}}

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        users = str(args.get("users") or "").split(",")
        if len(users) != 1:
            raise SlackApiError("not_implemented" if users[0] else "users_list_not_supplied")
        return {"channel": {"id": dm_id(self.person(users[0]).id)}}

    def _upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        name = str(args.get("filename") or "")
        if not name or not str(args.get("length") or "").isdigit():
            raise SlackApiError("invalid_arguments")
        file_id = f"F{next(self._ids):08d}"
        with self._changed:
            self.files[file_id] = Upload(name, name)
        return {"upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    def _complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        listed = args.get("files") or []
        shown = []
        for entry in listed:
            upload = self.file(str(entry.get("id")))
            if upload is None or not upload.data:
                raise SlackApiError("file_not_found")
            upload.title = str(entry.get("title") or upload.name)
            shown.append({"id": str(entry["id"]), "title": upload.title, "name": upload.name,
                          "url": f"/files/{entry['id']}"})
        if not shown:
            raise SlackApiError("invalid_arguments")
        if args.get("channel_id") or args.get("channels"):
            channel = self._conversation(args.get("channel_id") or str(args.get("channels")).split(",")[0])
            comment = str(args.get("initial_comment") or "")
            self._post(Message(self._ts(), channel, BOT_USER, comment, _blocks(args), files=shown))
        return {"files": [{"id": f["id"], "title": f["title"], "name": f["name"]} for f in shown]}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.person(str(args.get("user_id") or "")).id
        view = args.get("view")
        if not isinstance(view, dict) or view.get("type") != "home":
            raise SlackApiError("invalid_arguments")
        view = {**view, "blocks": _blocks(view)}
        with self._changed:
            self.homes[user] = view
            self.seq += 1
            self._changed.notify_all()
        return {"view": {"id": f"V{user}", **view}}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        person = self.person(str(args.get("user") or ""))
        return {"user": {"id": person.id, "name": person.name, "real_name": person.name}}

    # -- helpers ------------------------------------------------------------------------------------------------
    def _conversation(self, given: Any) -> str:
        """A channel id, a `#name` or `name`, a DM id, or a user id (its DM with costbot)."""
        value = str(given or "")
        name = value.lstrip("#")
        if value in self.channels or (value.startswith("D") and value in {dm_id(u) for u in self.people}):
            return value
        if value in self.people:
            return dm_id(value)
        for cid, known in self.channels.items():
            if known == name:
                return cid
        raise SlackApiError("channel_not_found")

    def _ts(self) -> str:
        with self._changed:
            self._clock = max(self._clock + 0.000001, time.time())
            return f"{self._clock:.6f}"

    def _post(self, message: Message) -> Message:
        with self._changed:
            self.messages.append(message)
            self.seq += 1
            self._changed.notify_all()
        return message

    def _replace(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> bool:
        with self._changed:
            found = next((m for m in self.messages if m.channel == channel and m.ts == ts), None)
            if found is None:
                return False
            found.text, found.blocks, found.edited = text, blocks, found.edited + 1
            self.seq += 1
            self._changed.notify_all()
            return True

    def _remove(self, channel: str, ts: str) -> bool:
        with self._changed:
            kept = [m for m in self.messages if not (m.channel == channel and m.ts == ts)]
            removed = len(kept) != len(self.messages)
            self.messages = kept
            self.seq += 1
            self._changed.notify_all()
            return removed


def _text(args: dict[str, Any]) -> str:
    return str(args.get("text") or "")


def _blocks(args: dict[str, Any]) -> list[dict[str, Any]]:
    """The message's blocks; like Slack, a block sent without a `block_id` gets one."""
    blocks = args.get("blocks") or []
    kept = [dict(b) for b in blocks if isinstance(b, dict)] if isinstance(blocks, list) else []
    for n, block in enumerate(kept):
        digest = hashlib.sha256(json.dumps(block, sort_keys=True).encode()).hexdigest()[:6]
        block.setdefault("block_id", f"b{n}-{digest}")
    return kept
