"""`costbot serve` and `costbot scheduler` as real processes: health, a signed command answered, a graceful
stop on SIGTERM/SIGINT (work in flight finished, the scheduler lease released) and logs free of secrets."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import Application
from bot.config import Settings
from tests.conftest import TODAY
from tests.signing import actions_body, command_body, post
from tests.slack_stub import SlackStub
from tests.socket_stub import SocketModeStub
from tests.stores import copy_store

SECRET = "process-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    """A costbot process whose stderr (JSON log lines) is collected as it comes."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.popen = subprocess.Popen([sys.executable, "-m", "bot", *args], env=env, stderr=subprocess.PIPE,
                                      text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stderr is not None
        for line in self.popen.stderr:
            self.lines.append(line)

    @property
    def err(self) -> str:
        return "".join(self.lines)

    def messages(self) -> list[str]:
        return [json.loads(line)["msg"] for line in list(self.lines) if line.startswith("{")]

    def wait_for_log(self, text: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in m for m in self.messages()):
                return
            if self.popen.poll() is not None:
                pytest.fail(f"costbot exited with {self.popen.returncode}: {self.err[-3000:]}")
            time.sleep(0.05)
        pytest.fail(f"no log line with {text!r} after {timeout} s: {self.err[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> tuple[int, float]:
        """Signal it and wait: (exit code, seconds it took)."""
        started = time.monotonic()
        self.popen.send_signal(sig)
        try:
            code = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            code = self.popen.wait()
        self._reader.join(5)
        return code, time.monotonic() - started


@pytest.fixture
def proc_env(demo_store: tuple[Path, Path], tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Environment for a costbot process: its own copy of the store (one process at a time writes a DuckDB file,
    and this test process has one open), state in SQLite, Slack at a fresh stub."""
    data = tmp_path / "data"
    data.mkdir()
    copy_store(demo_store[0] / "costs.duckdb", data / "costs.duckdb")
    stub = SlackStub().start()
    env = {**os.environ, "COSTBOT_DATA_DIR": str(data), "COSTBOT_TODAY": TODAY, "PORT": str(free_port()),
           "SLACK_BOT_TOKEN": "xoxb-proc", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": stub.api_url,
           "DATABASE_URL": f"sqlite:///{tmp_path / 'state.db'}"}
    env.pop("SLACK_APP_TOKEN", None)
    env.pop("COSTBOT_LOG_LEVEL", None)
    try:
        yield {"env": env, "stub": stub, "url": f"http://127.0.0.1:{env['PORT']}"}
    finally:
        stub.stop()


@contextmanager
def running(args: list[str], env: dict[str, str]) -> Iterator[Proc]:
    proc = Proc(args, env)
    try:
        yield proc
    finally:
        if proc.popen.poll() is None:
            proc.popen.kill()
            proc.popen.wait()


def next_scheduler_leads_at_once(env: dict[str, str]) -> bool:
    """A second scheduler on the same state database: does its first lease round make it the leader?"""
    application = Application(Settings({k: env[k] for k in ("COSTBOT_DATA_DIR", "COSTBOT_TODAY", "DATABASE_URL")}))
    runner = application.scheduler(holder="next", lease_ttl=timedelta(seconds=30))
    try:
        return runner.tick()
    finally:
        runner.stop()
        application.close()


def test_serve_http_process(demo_store: tuple[Path, Path], tmp_path: Path) -> None:
    # its own copy of the store: one process at a time writes a DuckDB file, and this test process has one open
    data = tmp_path / "data"
    data.mkdir()
    copy_store(demo_store[0] / "costs.duckdb", data / "costs.duckdb")
    stub = SlackStub().start()
    port = free_port()
    env = {**os.environ, "COSTBOT_DATA_DIR": str(data), "COSTBOT_TODAY": TODAY, "PORT": str(port),
           "SLACK_BOT_TOKEN": "xoxb-proc", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": stub.api_url,
           "DATABASE_URL": f"sqlite:///{tmp_path / 'state.db'}"}
    env.pop("SLACK_APP_TOKEN", None)
    proc = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1"], env=env,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        health = None
        while time.monotonic() < deadline and health is None:
            if proc.poll() is not None:
                pytest.fail(f"costbot serve exited with {proc.returncode}: {proc.stderr.read()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as resp:
                    health = json.loads(resp.read())
            except OSError:
                time.sleep(0.1)
        assert health is not None and health["status"] == "ok"
        status, _ = post(f"http://127.0.0.1:{port}/slack/events",
                         command_body("team-ml last-week", stub.response_url("p1")), SECRET)
        assert status == 200
        stub.wait_for(lambda cs: any(c.kind == "response" for c in cs), timeout=15)
        assert stub.responses("p1")[0].args["blocks"][0]["text"]["text"] == "team-ml · last-week"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        stub.stop()
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    messages = [entry["msg"] for entry in lines]
    assert any("listening on http://127.0.0.1" in m for m in messages)
    assert any("is now active" in m for m in messages)  # the in-process scheduler took the lease
    assert "xoxb-proc" not in err and SECRET not in err  # secrets never logged


def test_sigterm_finishes_work_in_flight_and_releases_the_lease(proc_env: dict[str, Any]) -> None:
    env, stub, url = proc_env["env"], proc_env["stub"], proc_env["url"]
    with running(["serve", "--host", "127.0.0.1"], env) as proc:
        proc.wait_for_log("is now active")
        proc.wait_for_log("listening on")
        # the Share click's post is rate limited once: the retry is 2 s out when SIGTERM arrives
        stub.fail("chat.postMessage", status=429, times=1, headers={"Retry-After": "2"})
        status, _ = post(url + "/slack/events", actions_body("costbot_share", "team-ml last-week",
                                                              stub.response_url("s")), SECRET)
        assert status == 200
        stub.wait_for(lambda cs: any(c.name == "chat.postMessage" for c in cs), timeout=15)
        code, took = proc.stop(signal.SIGTERM)
    assert code == 0, proc.err[-3000:]
    posts = stub.api_calls("chat.postMessage")
    assert len(posts) == 2 and posts[1].args["channel"] == "C111"  # the click was finished, not dropped
    assert stub.responses() == []  # and without an error message
    assert took < 10  # within `docker stop`'s 10 s
    messages = proc.messages()
    assert any("released the lease" in m for m in messages) and messages[-1] == "stopped"
    assert next_scheduler_leads_at_once(env)  # not after the 30 s lease expiry


def test_sigterm_stops_an_idle_server_at_once_and_refuses_new_connections(proc_env: dict[str, Any]) -> None:
    env, url = proc_env["env"], proc_env["url"]
    with running(["serve", "--host", "127.0.0.1", "--no-scheduler"], env) as proc:
        proc.wait_for_log("listening on")
        keep_alive = http.client.HTTPConnection("127.0.0.1", int(env["PORT"]), timeout=5)
        keep_alive.request("GET", "/healthz")  # an idle keep-alive connection must not hold the stop up
        assert json.loads(keep_alive.getresponse().read())["status"] == "ok"
        code, took = proc.stop(signal.SIGINT)
    assert code == 0, proc.err[-3000:]
    assert took < 5
    with pytest.raises(OSError):
        urllib.request.urlopen(url + "/healthz", timeout=2)


def test_socket_mode_stops_on_sigterm(proc_env: dict[str, Any]) -> None:
    env, stub = proc_env["env"], proc_env["stub"]
    link = SocketModeStub().start()
    stub.socket_url = link.url
    try:
        with running(["serve", "--socket"], {**env, "SLACK_APP_TOKEN": "xapp-proc"}) as proc:
            proc.wait_for_log("is now active")
            assert link.connected.wait(15)
            link.send({"envelope_id": "env-1", "type": "slash_commands", "accepts_response_payload": True,
                       "payload": {"command": "/cost", "text": "team-ml last-week", "user_id": "U0ML00001",
                                   "channel_id": "C111", "team_id": "T111", "response_url": stub.response_url("sm"),
                                   "trigger_id": "1.2.3"}})
            link.wait_for_ack("env-1")
            stub.wait_for(lambda cs: any(c.kind == "response" for c in cs), timeout=15)
            code, took = proc.stop(signal.SIGTERM)
    finally:
        link.stop()
    assert code == 0, proc.err[-3000:]
    assert took < 10
    assert any("released the lease" in m for m in proc.messages())
    assert next_scheduler_leads_at_once(env)


def test_scheduler_process_releases_its_lease_on_sigterm(proc_env: dict[str, Any]) -> None:
    env = proc_env["env"]
    with running(["scheduler"], env) as proc:
        proc.wait_for_log("is now active")
        code, took = proc.stop(signal.SIGTERM)
    assert code == 0, proc.err[-3000:]
    assert took < 10
    assert next_scheduler_leads_at_once(env)


def test_debug_logs_carry_no_request_bodies_or_secrets(proc_env: dict[str, Any]) -> None:
    env, stub, url = proc_env["env"], proc_env["stub"], proc_env["url"]
    marker = "BODYMARKER7f3a"
    secrets = {"AWS_ACCESS_KEY_ID": "AKIAMARKER0000000000", "AWS_SECRET_ACCESS_KEY": "secretkeymarker7f3a",
               "AWS_SESSION_TOKEN": "sessiontokenmarker7f3a", "COSTBOT_ADMIN_TOKEN": "admintokenmarker7f3a0000"}
    events = url + "/slack/events"
    with running(["serve", "--host", "127.0.0.1"], {**env, **secrets, "COSTBOT_LOG_LEVEL": "DEBUG"}) as proc:
        proc.wait_for_log("listening on")
        hostile = command_body(f"team-ml {marker}", stub.response_url("evil"))
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        requests = [
            (hostile, form),  # unsigned
            (hostile, {**form, "X-Slack-Request-Timestamp": "x", "X-Slack-Signature": "v0=" + "0" * 64}),
            (hostile + b"&pad=" + b"y" * (2 * 1024 * 1024), form),  # over the size limit
            (json.dumps({"response_url": marker}).encode(), {"Content-Type": "application/json"}),
        ]
        for body, headers in requests:
            request = urllib.request.Request(events, data=body, headers=headers, method="POST")
            try:
                urllib.request.urlopen(request, timeout=10)
            except urllib.error.HTTPError as exc:
                assert exc.code in (401, 413)
            except OSError:
                pass  # the 413 may close the connection while the body is still being sent
        status, _ = post(events, command_body(f"team-ml last-week {marker}", stub.response_url("ok")), SECRET)
        assert status == 200
        stub.wait_for(lambda cs: any(c.name == "ok" for c in cs), timeout=15)
        code, _ = proc.stop(signal.SIGINT)
    for needle in [marker, "xoxb-proc", SECRET, *secrets.values()]:
        assert needle not in proc.err, needle
    levels = {json.loads(line)["level"] for line in proc.lines if line.startswith("{")}
    assert "debug" in levels  # DEBUG really was on
    assert not [c for c in stub.calls if c.name == "evil"]
    assert code == 0


def test_digest_preview_cli(cli, demo_store, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    monkeypatch.setenv("COSTBOT_DATA_DIR", str(demo_store[0]))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    result = cli("digest", "team-ml", "--preview", str(tmp_path / "out"))
    assert result.code == 0, result.err
    blocks = json.loads((tmp_path / "out" / "digest-team-ml-daily.json").read_text())
    assert blocks[0]["text"]["text"] == "Daily cost digest · team-ml"
    with Image.open(tmp_path / "out" / "digest-team-ml-daily.png") as img:
        assert img.size == (1200, 600)
    missing = cli("digest", "team-ml")
    assert missing.code == 1 and "--preview" in missing.err
    bad = cli("digest", "tem-ml", "--preview", str(tmp_path))
    assert bad.code == 2 and "Did you mean 'team-ml'" in bad.err
