"""`costbot serve --http` as a real process: health, a signed command answered, and a clean shutdown."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import TODAY
from tests.signing import command_body, post
from tests.slack_stub import SlackStub

SECRET = "process-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_http_process(demo_store: tuple[Path, Path], tmp_path: Path) -> None:
    # its own copy of the store: one process at a time writes a DuckDB file, and this test process has one open
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(demo_store[0] / "costs.duckdb", data / "costs.duckdb")
    stub = SlackStub().start()
    port = free_port()
    env = {**os.environ, "COSTBOT_DATA_DIR": str(data), "COSTBOT_TODAY": TODAY, "PORT": str(port),
           "SLACK_BOT_TOKEN": "xoxb-proc", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": stub.api_url,
           "DATABASE_URL": f"sqlite:///{tmp_path / 'state.db'}"}
    env.pop("SLACK_APP_TOKEN", None)
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1"], env=env,
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
