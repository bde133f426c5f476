"""Request intake over real HTTP: nothing acts on, replies to or logs a request before its signature is verified.

Every hostile body below names a response_url on the Slack stub, so a reply to an unverified request would show
up as a stub call; the stub must see none.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import Application
from bot.config import Settings
from bot.web import MAX_BODY_BYTES, make_server, run_until_closed
from tests.conftest import TODAY
from tests.integration.conftest import SECRET, RunningBot
from tests.signing import actions_body, command_body, post, signature
from tests.slack_stub import SlackStub

FORM = "application/x-www-form-urlencoded"
ADMIN_TOKEN = "admin-token-0123456789abcdef"


def send(url: str, body: bytes, headers: dict[str, str], method: str = "POST",
         chunked: bool = False) -> tuple[int, bytes]:
    """One raw HTTP request with exactly these headers (http.client sends no X-Slack-* of its own)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=15)
    try:
        # the server may answer (413) and close before taking the whole body; its answer is still there
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.request(method, parts.path, body=iter([body]) if chunked else body, headers=headers,
                         encode_chunked=chunked)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def signed_headers(body: bytes, timestamp: str | None = None, content_type: str = FORM,
                   secret: str = SECRET) -> dict[str, str]:
    ts = timestamp if timestamp is not None else str(int(time.time()))
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature(secret, ts, body)}


def assert_no_calls(stub: SlackStub) -> None:
    time.sleep(0.5)  # a reply would be on its way by now
    assert stub.calls == []


@pytest.mark.parametrize("timestamp", ["x", "", "1.5", "1e9", "-1", "99999999999999999999", "17²"])
def test_malformed_timestamp_is_refused_without_reply(bot: RunningBot, stub: SlackStub, timestamp: str) -> None:
    body = command_body("team-ml last-week", stub.response_url("evil"))
    headers = signed_headers(body, timestamp)  # signed over the malformed timestamp with the right secret
    status, _ = send(bot.events_url, body, headers)
    assert status == 401
    assert_no_calls(stub)


@pytest.mark.parametrize("missing", ["X-Slack-Request-Timestamp", "X-Slack-Signature", "both"])
def test_missing_signature_headers_get_401(bot: RunningBot, stub: SlackStub, missing: str) -> None:
    body = command_body("team-ml last-week", stub.response_url("evil"))
    headers = signed_headers(body)
    for name in ("X-Slack-Request-Timestamp", "X-Slack-Signature"):
        if missing in (name, "both"):
            del headers[name]
    status, _ = send(bot.events_url, body, headers)
    assert status == 401
    assert_no_calls(stub)


@pytest.mark.parametrize("sig", ["v0=" + "é" * 64, "v0=" + "A" * 64, "v1=" + "a" * 64, "v0=abc", "garbage"])
def test_malformed_signature_is_refused_without_reply(bot: RunningBot, stub: SlackStub, sig: str) -> None:
    body = command_body("team-ml last-week", stub.response_url("evil"))
    headers = {**signed_headers(body), "X-Slack-Signature": sig}
    status, _ = send(bot.events_url, body, headers)
    assert status == 401
    assert_no_calls(stub)


def hostile_bodies(response_url: str) -> list[tuple[str, bytes]]:
    """Bodies Bolt cannot read, each naming a response_url."""
    payload = {"type": "block_actions", "response_url": response_url, "actions": []}
    return [
        ("application/json", json.dumps([payload]).encode()),  # a JSON array
        ("application/json", json.dumps(response_url).encode()),  # a JSON string
        ("application/json", b'{"response_url": "' + response_url.encode() + b'", '),  # cut off
        ("application/json", b"response_url=" + urllib.parse.quote(response_url).encode()),  # not JSON at all
        (FORM, b"payload=" + urllib.parse.quote('{"response_url": "' + response_url).encode()),  # payload cut off
        (FORM, b"payload=" + urllib.parse.quote(json.dumps([payload])).encode()),  # payload not an object
        ("text/plain", b'{"response_url": "' + response_url.encode() + b'"'),
        (FORM, b"response_url=" + urllib.parse.quote(response_url).encode() + b"&text=\xff\xfe"),  # not UTF-8
    ]


@pytest.mark.parametrize("case", range(8))
def test_unsigned_unreadable_bodies_get_401_or_400(bot: RunningBot, stub: SlackStub, case: int) -> None:
    content_type, body = hostile_bodies(stub.response_url("evil"))[case]
    status, _ = send(bot.events_url, body, {"Content-Type": content_type})
    assert status in (400, 401)
    assert_no_calls(stub)


@pytest.mark.parametrize("case", range(8))
def test_signed_but_unreadable_bodies_get_400_or_415(bot: RunningBot, stub: SlackStub, case: int) -> None:
    content_type, body = hostile_bodies(stub.response_url("evil"))[case]
    status, _ = send(bot.events_url, body, signed_headers(body, content_type=content_type))
    assert status == (415 if content_type == "text/plain" else 400)
    assert_no_calls(stub)


@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data; boundary=x", ""])
def test_signed_body_of_another_media_type_gets_415(bot: RunningBot, stub: SlackStub, content_type: str) -> None:
    body = command_body("team-ml last-week", stub.response_url("evil"))
    headers = signed_headers(body, content_type=content_type)
    if not content_type:
        del headers["Content-Type"]
    status, _ = send(bot.events_url, body, headers)
    assert status == 415
    assert_no_calls(stub)


def test_form_with_a_charset_is_accepted(bot: RunningBot, stub: SlackStub) -> None:
    body = command_body("team-ml last-week", stub.response_url("ok"))
    status, _ = send(bot.events_url, body, signed_headers(body, content_type=FORM + "; charset=utf-8"))
    assert status == 200
    stub.wait_for(lambda cs: any(c.kind == "response" for c in cs))
    assert stub.responses("ok")[0].args["blocks"][0]["text"]["text"] == "team-ml · last-week"


@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_over_1_mb_gets_413_before_it_is_read(bot: RunningBot, stub: SlackStub, signed: bool,
                                                     chunked: bool) -> None:
    text = "x" * (2 * MAX_BODY_BYTES)
    body = command_body(text, stub.response_url("evil"))
    headers = signed_headers(body) if signed else {"Content-Type": FORM}
    status, _ = send(bot.events_url, body, headers, chunked=chunked)
    assert status == 413
    assert_no_calls(stub)


def test_a_body_of_exactly_the_limit_is_read(bot: RunningBot, stub: SlackStub) -> None:
    body = command_body("", stub.response_url("big"))
    body += b"&pad=" + b"x" * (MAX_BODY_BYTES - len(body) - 5)
    assert len(body) == MAX_BODY_BYTES
    status, _ = send(bot.events_url, body, signed_headers(body))
    assert status == 200
    stub.wait_for(lambda cs: any(c.kind == "response" for c in cs))


def test_routes_and_methods(bot: RunningBot, stub: SlackStub) -> None:
    assert send(bot.events_url, b"", {}, method="GET")[0] == 405
    assert send(bot.url + "/healthz", b"", {"Content-Type": FORM}, method="POST")[0] == 405
    assert send(bot.url + "/slack/other", b"x=1", {"Content-Type": FORM})[0] == 404
    assert send(bot.url + "/admin/status", b"", {}, method="GET")[0] == 404  # no COSTBOT_ADMIN_TOKEN: no route
    assert_no_calls(stub)


def test_signed_url_verification_over_json_still_works(bot: RunningBot, stub: SlackStub) -> None:
    body = json.dumps({"token": "legacy", "challenge": "c-123", "type": "url_verification"}).encode()
    status, answer = send(bot.events_url, body, signed_headers(body, content_type="application/json"))
    assert status == 200
    assert json.loads(answer) == {"challenge": "c-123"}


def test_signed_event_nobody_listens_to_is_not_an_error(bot: RunningBot, stub: SlackStub) -> None:
    body = json.dumps({"type": "event_callback", "team_id": "T111", "api_app_id": "A111", "event_id": "Ev9",
                       "event": {"type": "reaction_added", "user": "U0ML00001"}}).encode()
    status, _ = send(bot.events_url, body, signed_headers(body, content_type="application/json"))
    assert status == 404  # Bolt's answer for a request no listener takes
    assert_no_calls(stub)


@pytest.fixture(scope="module")
def bolt_without_gate(bot: RunningBot) -> Iterator[str]:
    """The same Bolt app behind Bolt's own WSGI adapter, without costbot's gate: its error path must hold alone."""
    from slack_bolt.adapter.wsgi import SlackRequestHandler
    from waitress.server import create_server

    server = create_server(SlackRequestHandler(bot.slack), host="127.0.0.1", port=0)
    threading.Thread(target=run_until_closed, args=(server,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}/slack/events"
    finally:
        server.close()


@pytest.mark.parametrize("timestamp", ["x", "1.5"])
def test_bolt_error_path_never_answers_an_unverified_body(bolt_without_gate: str, stub: SlackStub,
                                                          timestamp: str) -> None:
    body = command_body("team-ml last-week", stub.response_url("evil"))
    status, _ = send(bolt_without_gate, body, signed_headers(body, timestamp))
    assert status == 401  # the error handler's answer for a request that failed before verification
    assert_no_calls(stub)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_slack_5xx_is_retried_with_backoff(bot: RunningBot, stub: SlackStub, status: int) -> None:
    stub.fail("chat.postMessage", status=status, times=1)
    post(bot.events_url, actions_body("costbot_share", "last-week", stub.response_url("s5")), SECRET)
    calls = stub.wait_for(lambda cs: len([c for c in cs if c.name == "chat.postMessage"]) >= 2, timeout=15)
    posts = [c for c in calls if c.name == "chat.postMessage"]
    assert len(posts) == 2 and posts[0].args == posts[1].args
    time.sleep(0.3)
    assert stub.responses() == []  # no error message: the retry succeeded


# -- the admin route ------------------------------------------------------------------------------------------

def bot_env(data_dir: Path, state_dir: Path, api_url: str, **extra: str) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite:///{state_dir / 'state.db'}", "COSTBOT_DATA_DIR": str(data_dir),
            "COSTBOT_TODAY": TODAY, "SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": api_url, **extra}


@pytest.fixture(scope="module")
def admin_bot(demo_store: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real bot with COSTBOT_ADMIN_TOKEN set; yields its base URL."""
    stub = SlackStub().start()
    env = bot_env(demo_store[0], tmp_path_factory.mktemp("admin"), stub.api_url, COSTBOT_ADMIN_TOKEN=ADMIN_TOKEN)
    application = Application(Settings(env))
    server = make_server(application.wsgi(application.slack_app()), "127.0.0.1", 0)
    threading.Thread(target=run_until_closed, args=(server,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        stub.stop()
        application.close()


def get(url: str, headers: dict[str, str]) -> tuple[int, dict[str, Any], http.client.HTTPMessage]:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", parts.path, headers=headers)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"{}"), resp.headers
    finally:
        conn.close()


def test_admin_status_shows_details_to_the_token_holder(admin_bot: str) -> None:
    from bot import __version__

    status, body, _ = get(admin_bot + "/admin/status", {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert status == 200
    assert body["status"] == "ok" and body["version"] == __version__
    assert body["store"]["data_through"] == "2026-11-27" and body["store"]["rows"] > 3000
    status, body, _ = get(admin_bot + "/healthz", {})
    assert (status, body) == (200, {"status": "ok"})


@pytest.mark.parametrize("authorization", [
    None, "", "Bearer", "Bearer wrong-token-0123456789abcdef", f"Basic {ADMIN_TOKEN}", f"Bearer {ADMIN_TOKEN}x",
    f"Bearer {ADMIN_TOKEN[:-1]}", "Bearer é"])
def test_admin_status_refuses_anyone_else(admin_bot: str, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    status, body, response_headers = get(admin_bot + "/admin/status", headers)
    assert status == 401
    assert body == {"error": "unauthorized"}
    assert response_headers["WWW-Authenticate"].startswith("Bearer")


def test_a_short_admin_token_is_a_config_error(bot: RunningBot, demo_store: tuple[Path, Path],
                                               tmp_path: Path) -> None:
    from bot.domain.errors import ConfigError

    application = Application(Settings(bot_env(demo_store[0], tmp_path, bot.stub.api_url,
                                               COSTBOT_ADMIN_TOKEN="short")))
    with pytest.raises(ConfigError, match="COSTBOT_ADMIN_TOKEN must be at least 16 characters"):
        application.wsgi(bot.slack)


# -- logs -----------------------------------------------------------------------------------------------------

@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """costbot's logging set up at DEBUG for one test, into the yielded buffer; the test process's own setup
    restored afterwards."""
    import logging

    from bot.logs import setup_logging

    root = logging.getLogger()
    saved = (list(root.handlers), root.level,
             {name: logging.getLogger(name).level for name in ("botocore", "boto3", "urllib3", "slack_sdk",
                                                                "slack_bolt", "waitress.queue")})
    buffer = io.StringIO()
    setup_logging("json", "DEBUG")
    root.handlers[0].setStream(buffer)  # type: ignore[attr-defined]
    try:
        yield buffer
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)


def test_aws_calls_at_debug_log_no_credentials(debug_log: io.StringIO, moto_server: tuple[Any, str]) -> None:
    import logging

    import boto3

    _, endpoint = moto_server
    creds = {"aws_access_key_id": "AKIAKEYMARKER0000000", "aws_secret_access_key": "secretmarker-9c1d",
             "aws_session_token": "sessionmarker-9c1d"}
    for name in ("botocore", "boto3", "urllib3"):  # whatever a library or a user sets on its own loggers
        logging.getLogger(name).setLevel(logging.DEBUG)
    client = boto3.session.Session(region_name="us-east-1", **creds).client("sts", endpoint_url=endpoint)
    assert client.get_caller_identity()["Account"]
    logging.getLogger("costbot.test").debug("debug is on")
    err = debug_log.getvalue()
    assert '"msg": "debug is on"' in err
    for secret in creds.values():
        assert secret not in err


def test_healthz_answers_head_for_load_balancers(bot: RunningBot) -> None:
    request = urllib.request.Request(bot.url + "/healthz", method="HEAD")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200
