"""The playground speaks Slack's protocol on both sides: what it sends the app is signed with the app's signing
secret (checked by slack_sdk's verifier on the bytes that crossed the wire, through a recording relay), and every
Web API method costbot's code calls is answered (the list is read from the code, then each method is called with
slack_sdk's own client and must come back `ok`)."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier

from bot.app import Application
from bot.config import Settings
from bot.playground.server import Playground
from bot.playground.workspace import WEB_API_METHODS, dm_id
from tests.conftest import TODAY

ROOT = Path(__file__).resolve().parents[2]
ANALYST, APPROVER = "U0ANALYST", "U0ML00001"
#: slack_sdk helpers that call several Web API methods
COMPOSITE = {"files_upload_v2": ("files.getUploadURLExternal", "files.completeUploadExternal")}


class Relay:
    """Between the playground and the app: records each request's headers and bytes, then passes it on."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.seen: list[tuple[dict[str, str], bytes, int]] = []
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower().startswith(("x-slack", "content-type"))}
                request = urllib.request.Request(relay.target, data=body, headers=headers, method="POST")
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        status, answer = response.status, response.read()
                except urllib.error.HTTPError as err:
                    status, answer = err.code, err.read()
                relay.seen.append(({k.lower(): v for k, v in headers.items()}, body, status))
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/slack/events"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def playground(demo_store: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Playground]:
    state = tmp_path_factory.mktemp("playground") / "state.db"
    env = {"COSTBOT_DATA_DIR": str(demo_store[0]), "COSTBOT_TODAY": TODAY, "DATABASE_URL": f"sqlite:///{state}"}
    running = Playground(lambda values: Application(Settings({**env, **values})), "127.0.0.1", 0).start()
    try:
        yield running
    finally:
        running.stop()


def post_ui(playground: Playground, path: str, body: dict[str, Any],
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(playground.local_url + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def wait_for(predicate: Any, timeout: float = 90.0) -> Any:  # a loaded machine's first migration can take 30 s+
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_what_the_playground_sends_verifies_with_the_apps_signing_secret(playground: Playground) -> None:
    assert playground.backend is not None
    app_secret = playground.backend.settings.get("SLACK_SIGNING_SECRET")  # type: ignore[attr-defined]
    assert app_secret and app_secret == playground.signing_secret
    relay = Relay(playground.app_url)
    playground.app_url = relay.url
    ws = playground.workspace
    assert ws is not None
    channel = next(cid for cid, name in ws.channels.items() if name == "team-ml")
    try:
        assert post_ui(playground, "/ui/command", {"user": ANALYST, "channel": channel,
                                                   "text": "/cost team-ml last-week"}) == (200, {"ok": True})
        answer = wait_for(lambda: next((m for m in ws.messages if m.user != ANALYST and m.blocks), None))
        assert answer.ephemeral_to == ANALYST and answer.channel == channel
        assert post_ui(playground, "/ui/action", {"user": ANALYST, "channel": channel, "ts": answer.ts,
                                                  "action_id": "costbot_share",
                                                  "block_id": _block_of(answer.blocks, "costbot_share")})[0] == 200
        wait_for(lambda: any(m.ephemeral_to is None and m.blocks for m in ws.messages))
        assert post_ui(playground, "/ui/home", {"user": APPROVER}) == (200, {"ok": True})
        wait_for(lambda: APPROVER in ws.homes)
    finally:
        playground.app_url = relay.target
        relay.stop()

    verifier = SignatureVerifier(app_secret)
    kinds = []
    for headers, body, status in relay.seen:
        assert status == 200
        assert verifier.is_valid(body, headers["x-slack-request-timestamp"], headers["x-slack-signature"])
        assert not SignatureVerifier("another-secret").is_valid(body, headers["x-slack-request-timestamp"],
                                                                headers["x-slack-signature"])
        assert abs(int(headers["x-slack-request-timestamp"]) - time.time()) < 300  # inside Slack's window
        kinds.append(headers["content-type"])
    assert kinds == ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded", "application/json"]


def _block_of(blocks: list[dict[str, Any]], action_id: str) -> str:
    return next(b["block_id"] for b in blocks if b["type"] == "actions"
                for e in b["elements"] if e["action_id"] == action_id)


def methods_the_app_calls() -> set[str]:
    """Every Web API method named in costbot's code (slack_sdk's snake_case helpers), plus auth.test (Bolt checks
    the token when the app is built)."""
    helper = re.compile(r"client\s*\.\s*(auth|chat|conversations|files|views|users|reactions|pins|apps)_"
                        r"([A-Za-z0-9_]+)\(")
    found = {"auth.test"}
    for path in [*ROOT.joinpath("bot").rglob("*.py"), *ROOT.joinpath("handlers").rglob("*.py")]:
        if "playground" in path.parts:
            continue
        for family, name in helper.findall(path.read_text(encoding="utf-8")):
            call = f"{family}_{name}"
            found.update(COMPOSITE.get(call, (f"{family}.{name}",)))
    return found


def test_every_web_api_method_the_app_calls_is_served(playground: Playground) -> None:
    used = methods_the_app_calls()
    assert {"chat.postMessage", "chat.update", "conversations.open", "conversations.list", "views.publish",
            "files.getUploadURLExternal", "files.completeUploadExternal", "auth.test"} <= used
    assert used <= set(WEB_API_METHODS)
    ws = playground.workspace
    assert ws is not None
    client = WebClient(token=playground.bot_token, base_url=f"{playground.local_url}/api/")
    channel = next(cid for cid, name in ws.channels.items() if name == "team-ml")
    posted = client.chat_postMessage(channel="#team-ml", text="hello", blocks=[
        {"type": "section", "text": {"type": "mrkdwn", "text": "*hello*"}}])
    calls = {
        "auth.test": lambda: client.auth_test(),
        "chat.postMessage": lambda: posted,
        "chat.update": lambda: client.chat_update(channel=channel, ts=posted["ts"], text="updated", blocks=[]),
        "chat.postEphemeral": lambda: client.chat_postEphemeral(channel=channel, user=ANALYST, text="psst"),
        "chat.delete": lambda: client.chat_delete(channel=channel, ts=client.chat_postMessage(
            channel=channel, text="to delete")["ts"]),
        "conversations.list": lambda: client.conversations_list(types="public_channel"),
        "conversations.open": lambda: client.conversations_open(users=ANALYST),
        "files.getUploadURLExternal": lambda: client.files_getUploadURLExternal(filename="a.png", length=3),
        "files.completeUploadExternal": lambda: client.files_upload_v2(channel=channel, file=b"png", filename="a.png",
                                                                       title="A chart", initial_comment="here"),
        "views.publish": lambda: client.views_publish(user_id=APPROVER, view={"type": "home", "blocks": []}),
        "users.info": lambda: client.users_info(user=APPROVER),
    }
    assert set(calls) == set(WEB_API_METHODS)
    for method in sorted(used):
        answer = calls[method]()
        assert answer["ok"] is True, method
    # what they did is what Slack does
    assert ws.message(channel, posted["ts"]).text == "updated"  # type: ignore[union-attr]
    assert client.conversations_open(users=ANALYST)["channel"]["id"] == dm_id(ANALYST)
    assert any(c["name"] == "team-ml" and c["id"] == channel for c in client.conversations_list()["channels"])
    uploaded = next(m for m in reversed(ws.messages) if m.files)
    assert (uploaded.channel, uploaded.text, uploaded.files[0]["title"]) == (channel, "here", "A chart")
    file_id = uploaded.files[0]["id"]
    with urllib.request.urlopen(f"{playground.local_url}/files/{file_id}", timeout=10) as response:
        assert response.read() == b"png"
    assert ws.homes[APPROVER]["type"] == "home"


def test_slack_refusals_look_like_slacks(playground: Playground) -> None:
    good = WebClient(token=playground.bot_token, base_url=f"{playground.local_url}/api/")
    for client, method, error in (
        (WebClient(token="xoxb-wrong", base_url=f"{playground.local_url}/api/"), "auth.test", "invalid_auth"),
        (good, "chat.unknownThing", "unknown_method"),
    ):
        with pytest.raises(SlackApiError) as raised:
            client.api_call(method)
        assert raised.value.response["error"] == error
    with pytest.raises(SlackApiError) as raised:
        good.chat_update(channel="#team-ml", ts="1.000001", text="no such message")
    assert raised.value.response["error"] == "message_not_found"
    with pytest.raises(SlackApiError) as raised:
        good.chat_postMessage(channel="#nowhere", text="hi")
    assert raised.value.response["error"] == "channel_not_found"


def test_the_page_routes_refuse_other_sites_and_forged_buttons(playground: Playground) -> None:
    ws = playground.workspace
    assert ws is not None
    channel = next(cid for cid, name in ws.channels.items() if name == "team-ml")
    status, answer = post_ui(playground, "/ui/command", {"user": ANALYST, "channel": channel, "text": "/cost help"},
                             headers={"Origin": "http://evil.example"})
    assert (status, answer["error"]) == (403, "cross-origin request refused")
    status, answer = post_ui(playground, "/ui/command", {"user": "UNOBODY", "channel": channel, "text": "/cost"})
    assert (status, answer["error"]) == (400, "unknown person 'UNOBODY'")
    status, answer = post_ui(playground, "/ui/command", {"user": ANALYST, "channel": channel, "text": "/deploy"})
    assert status == 400 and "costbot's command is /cost" in answer["error"]
    status, answer = post_ui(playground, "/ui/command", {"user": ANALYST, "channel": channel, "text": "x" * 70_000})
    assert (status, answer["error"]) == (413, "the body is larger than 65536 bytes")
    posted = ws.say(channel, "UCOSTBOT0", "no buttons here")
    status, answer = post_ui(playground, "/ui/action", {"user": ANALYST, "channel": channel, "ts": posted.ts,
                                                        "action_id": "costbot_stop", "block_id": "b1"})
    assert (status, answer["error"]) == (404, "no button costbot_stop on that message")


def test_costbot_playground_as_a_process(demo_store: tuple[Path, Path], tmp_path: Path) -> None:
    """The command: prints its address on loopback, serves the page, hides the signing secret, stops on SIGTERM."""
    import os
    import signal
    import subprocess
    import sys

    env = {**os.environ, "COSTBOT_DATA_DIR": str(demo_store[0]), "COSTBOT_TODAY": TODAY,
           "DATABASE_URL": f"sqlite:///{tmp_path / 'state.db'}", "COSTBOT_LOG_LEVEL": "DEBUG"}
    for name in ("COSTBOT_CONFIG", "SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"):
        env.pop(name, None)
    process = subprocess.Popen([sys.executable, "-m", "bot", "playground", "--port", "0"], env=env, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            pytest.fail(f"costbot playground exited with {process.wait(timeout=10)}: "
                        f"{process.stderr.read()[-3000:] if process.stderr else ''}")
        assert line.startswith("costbot playground: http://127.0.0.1:") and line.endswith("/  (Ctrl-C stops it)\n")
        url = line.split()[2]
        with urllib.request.urlopen(url, timeout=10) as response:
            page = response.read().decode()
            assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
        assert '<script src="/app.js" defer></script>' in page
        for asset in ("app.js", "app.css", "favicon.svg"):
            with urllib.request.urlopen(url + asset, timeout=10) as response:
                assert response.status == 200 and b"http://" not in response.read().replace(
                    b"http://www.w3.org/2000/svg", b"")  # nothing fetched from elsewhere
        with urllib.request.urlopen(url + "ui/state", timeout=10) as response:
            state = json.loads(response.read())
        assert [c["name"] for c in state["channels"]][:2] == ["team-ml", "team-vision"]
        assert "secret" not in json.dumps(state).lower() and "xoxb" not in json.dumps(state)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
        _, err = process.communicate(timeout=10)
    assert "xoxb-playground" not in err  # the run's token and secret stay out of the logs, even at DEBUG


def test_a_taken_port_is_a_clear_error(playground: Playground) -> None:
    from bot.domain.errors import ConfigError

    def never_built(values: dict[str, str]) -> Any:
        raise AssertionError("nothing is built when the page cannot listen")

    with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{playground.port} .*choose another with --port"):
        Playground(never_built, "127.0.0.1", playground.port).start()
