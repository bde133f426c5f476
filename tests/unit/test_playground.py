"""The playground's Slack stand-in without servers: what a response_url does to the conversation (new ephemeral
message, replace or delete the clicked one), who the page lets you act as, and the slash command's hint."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import yaml

from bot.config import load_config
from bot.playground import signing
from bot.playground.server import USAGE_HINT, channels_of, people_of
from bot.playground.workspace import BOT_USER, ResponseTarget, Workspace, channel_id, decode_args, dm_id

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "xoxb-unit"


def workspace() -> Workspace:
    config = load_config(None)
    return Workspace(channels_of(config), people_of(config), TOKEN, "http://127.0.0.1:9")


def test_the_hint_is_the_manifests() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text(encoding="utf-8"))
    (cost,) = manifest["features"]["slash_commands"]
    assert cost["usage_hint"] == USAGE_HINT


def test_people_and_channels_come_from_the_config() -> None:
    config = load_config(None)
    people = {p.id: p.role for p in people_of(config)}
    assert people == {
        "U0ANALYST": "team member, approves nothing", "U0ML00001": "approves team-ml's actions",
        "U0VIS0001": "approves team-vision's actions", "U0SRC0001": "approves team-search's actions",
        "U0DAT0001": "approves team-data's actions", "U0PLT0001": "approves team-platform's actions",
        "U0ADMIN01": "costbot admin: approves anything",
    }
    assert channels_of(config) == ["team-ml", "team-vision", "team-search", "team-data", "platform", "cloud-owners"]


def test_a_response_url_posts_ephemerally_replaces_and_deletes() -> None:
    ws = workspace()
    channel = channel_id("team-ml")
    url = ws.response_url(ResponseTarget(channel, "U0ANALYST"))
    rid = url.rsplit("/", 1)[1]
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "*$1.00*"}}
    assert ws.respond(rid, {"blocks": [section], "text": "$1.00", "response_type": "ephemeral"})
    (answer,) = ws.messages
    assert (answer.user, answer.ephemeral_to, answer.text) == (BOT_USER, "U0ANALYST", "$1.00")
    assert answer.blocks[0]["block_id"].startswith("b0-")  # Slack gives every block an id

    click = ws.response_url(ResponseTarget(channel, "U0ANALYST", answer.ts)).rsplit("/", 1)[1]
    assert ws.respond(click, {"text": "now", "replace_original": True})
    assert (len(ws.messages), ws.messages[0].text, ws.messages[0].edited) == (1, "now", 1)
    assert ws.respond(click, {"text": "shared", "response_type": "in_channel", "replace_original": False})
    assert ws.messages[1].ephemeral_to is None
    assert ws.respond(click, {"delete_original": True})
    assert [m.text for m in ws.messages] == ["shared"]
    assert not ws.respond("R999999", {"text": "nobody asked"})


def test_web_api_arguments_as_slack_sdk_sends_them() -> None:
    form = urllib.parse.urlencode({"channel_id": "C1", "files": json.dumps([{"id": "F1", "title": "t"}])}).encode()
    assert decode_args("", "application/x-www-form-urlencoded", form) == {"channel_id": "C1",
                                                                          "files": [{"id": "F1", "title": "t"}]}
    assert decode_args("types=public_channel&limit=1000", "", b"") == {"types": "public_channel", "limit": "1000"}
    assert decode_args("", "application/json; charset=utf-8", b'{"channel": "C1", "blocks": []}') == {
        "channel": "C1", "blocks": []}


def test_a_user_id_as_channel_is_the_dm_with_costbot() -> None:
    ws = workspace()
    answer = ws.call("chat.postMessage", {"channel": "U0ML00001", "text": "hi"}, f"Bearer {TOKEN}")
    assert answer["ok"] and answer["channel"] == dm_id("U0ML00001")
    assert ws.call("auth.test", {}, "Bearer xoxb-other") == {"ok": False, "error": "invalid_auth"}
    assert ws.call("auth.test", {}, "") == {"ok": False, "error": "not_authed"}


def test_signatures_are_slacks() -> None:
    # Slack's documented example: secret, timestamp and body give this signature
    secret = "8f742231b10e8888abcd99yyyzzz85a5"
    body = (b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&"
            b"channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&"
            b"response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
            b"trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
    assert signing.signature(secret, "1531420618", body) == \
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def test_a_channel_named_by_its_id_keeps_it() -> None:
    ws = Workspace(["C0TEAMML1", "team-ml"], [], TOKEN, "http://127.0.0.1:9")
    assert list(ws.channels) == ["C0TEAMML1", channel_id("team-ml")]
    assert ws.call("chat.postMessage", {"channel": "C0TEAMML1", "text": "hi"}, f"Bearer {TOKEN}")["channel"] == \
        "C0TEAMML1"
