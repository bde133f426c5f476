"""The demo, end to end with no cloud account: `costbot demo`, a scan that finds the idle GPU box, Stop asked for by
one person and approved by another over signed HTTP, the box stopped in the demo provider (as another process sees
it), the audit, and Undo. Also the same loop from the terminal."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import Application
from bot.config import Settings
from bot.domain.resources import ResourceRef
from bot.web import make_server, run_until_closed
from tests.conftest import CliResult
from tests.integration.conftest import SECRET, RunningBot
from tests.signing import actions_body, post
from tests.slack_stub import SlackStub

APPROVER = "U0ML00001"  # team-ml's approver in the demo config
SOMEONE = "U0ANALYST"
CHANNELS = {"team-ml": "C0TEAMML1", "team-search": "C0SEARCH1", "cloud-owners": "C0OWNERS1"}


def texts(blocks: list[dict[str, Any]]) -> str:
    out = []
    for b in blocks:
        if isinstance(b.get("text"), dict):
            out.append(b["text"]["text"])
        for e in b.get("elements", []):
            if isinstance(e.get("text"), dict):
                out.append(e["text"]["text"])
    return "\n".join(out)


def buttons(blocks: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    return [(e["action_id"], e["value"], b.get("block_id")) for b in blocks if b["type"] == "actions"
            for e in b["elements"]]


@pytest.fixture
def demo_bot(cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningBot]:
    """`costbot demo` in a fresh data dir, then the bot over HTTP on the built-in demo config."""
    assert cli("demo").code == 0
    stub = SlackStub().start()
    stub.channels = dict(CHANNELS)
    for key, value in {"SLACK_BOT_TOKEN": "xoxb-demo", "SLACK_SIGNING_SECRET": SECRET,
                       "SLACK_API_URL": stub.api_url}.items():
        monkeypatch.setenv(key, value)
    application = Application(Settings())
    slack = application.slack_app()
    server = make_server(application.wsgi(slack), "127.0.0.1", 0)
    threading.Thread(target=run_until_closed, args=(server,), daemon=True).start()
    try:
        yield RunningBot(f"http://127.0.0.1:{server.effective_port}", stub, application, slack)
    finally:
        server.close()
        stub.stop()
        application.close()


def click(bot: RunningBot, action_id: str, value: str, user: str, rid: str, block_id: str = "b1") -> str:
    status, _ = post(bot.events_url, actions_body(action_id, value, bot.stub.response_url(rid), user_id=user,
                                                  block_id=block_id), SECRET)
    assert status == 200
    bot.stub.wait_for(lambda cs: any(c.kind == "response" and c.name == rid for c in cs), timeout=30)
    return texts(bot.stub.responses(rid)[0].args["blocks"])


def live_state(key: str) -> str:
    """The resource as a separate process sees it: a new application on the same state database."""
    application = Application(Settings())
    try:
        found = application.providers["demo"].describe(ResourceRef.parse(key))
        assert found is not None
        return found.state
    finally:
        application.close()


def test_demo_scan_stop_approve_undo_in_slack(demo_bot: RunningBot, cli: Callable[..., CliResult]) -> None:
    bot, stub = demo_bot, demo_bot.stub
    scanned = cli("scan")
    assert scanned.code == 0, scanned.err
    assert "3 recommendations from 13 resources" in scanned.out
    posts = {c.args["channel"]: c.args["blocks"] for c in stub.api_calls("chat.postMessage")}
    assert set(posts) == {"C0TEAMML1", "C0SEARCH1", "C0OWNERS1"}
    ml = texts(posts["C0TEAMML1"])
    assert "*gpu-dev-02* `g5.12xlarge`" in ml and "idle for 26 h (GPU ≤ 1%, CPU ≤ 2%, network ≤ 0.4 MB/h)" in ml
    assert "$136.13/day" in ml and "saves ~$4,141/month" in ml
    assert "*train-ranking-01* `g5.2xlarge` → `g5.xlarge`" in texts(posts["C0SEARCH1"])
    assert "*legacy-batch-07*" in texts(posts["C0OWNERS1"])
    stop, key, block = next(b for b in buttons(posts["C0TEAMML1"]) if b[0] == "costbot_stop")
    assert ResourceRef.parse(key).provider == "demo" and block and block.startswith("rec:")

    # someone who is not an approver asks; team-ml's approver decides in the team channel
    stub.reset()
    assert "waiting for an approver" in click(bot, stop, key, SOMEONE, "ask", block_id=block)
    assert live_state(key) == "running"
    (request_msg,) = stub.api_calls("chat.postMessage")
    assert request_msg.args["channel"] == "C0TEAMML1"
    assert f"<@{SOMEONE}> asks to *stop* *gpu-dev-02*" in texts(request_msg.args["blocks"])
    approve = next(v for a, v, _ in buttons(request_msg.args["blocks"]) if a == "costbot_approve")
    assert "stopped gpu-dev-02" in click(bot, "costbot_approve", approve, APPROVER, "approve")
    assert live_state(key) == "stopped"
    audit = cli("audit", "5")
    assert audit.code == 0
    first = audit.out.splitlines()
    assert any("stop" in line and "succeeded" in line and APPROVER in line for line in first)
    assert "running g5.12xlarge x1 → stopped g5.12xlarge x1" in " ".join(audit.out.split())

    # the recommendation message now offers Undo; it starts the box again
    update = next(c for c in reversed(stub.api_calls("chat.update")) if c.args["channel"] == "C0TEAMML1"
                  and any(a == "costbot_undo" for a, _, _ in buttons(c.args["blocks"])))
    undo = next(v for a, v, _ in buttons(update.args["blocks"]) if a == "costbot_undo")
    assert "started gpu-dev-02" in click(bot, "costbot_undo", undo, APPROVER, "undo")
    assert live_state(key) == "running"


def test_demo_resize_and_snooze_in_slack(demo_bot: RunningBot, cli: Callable[..., CliResult]) -> None:
    bot, stub = demo_bot, demo_bot.stub
    assert cli("scan").code == 0
    posts = {c.args["channel"]: c.args["blocks"] for c in stub.api_calls("chat.postMessage")}
    resize, key, block = next(b for b in buttons(posts["C0SEARCH1"]) if b[0] == "costbot_resize")
    reply = click(bot, resize, key, "U0SRC0001", "resize", block_id=block)  # team-search's approver
    assert "changed train-ranking-01 from g5.2xlarge to g5.xlarge" in reply
    application = Application(Settings())
    try:
        resized = application.providers["demo"].describe(ResourceRef.parse(key))
        assert resized is not None and (resized.type, resized.state) == ("g5.xlarge", "running")
    finally:
        application.close()
    _, batch, _ = next(b for b in buttons(posts["C0OWNERS1"]) if b[0] == "costbot_snooze")
    assert "Snoozed legacy-batch-07 until 2026-12-05" in click(bot, "costbot_snooze", batch, "U0ADMIN01", "snooze")
    rescan = cli("scan", "--no-post")
    assert "1 recommendations from 13 resources" in rescan.out  # resized and snoozed: only the GPU box is left
    assert "gpu-dev-02" in rescan.out


def test_demo_loop_in_the_terminal(cli: Callable[..., CliResult]) -> None:
    assert cli("demo").code == 0
    scanned = cli("scan")
    assert scanned.code == 0 and "gpu-dev-02" in scanned.out and "posted to 0 channel(s)" in scanned.out
    asked = cli("action", "stop", "gpu-dev-02", "--as", SOMEONE)
    assert asked.code == 0
    assert "U0ANALYST asked to stop gpu-dev-02: waiting for an approver of team-ml (costbot action approve 1" \
        in " ".join(asked.out.split())
    approved = cli("action", "approve", "1", "--as", APPROVER)
    assert approved.code == 0 and "stopped gpu-dev-02 — by U0ML00001" in " ".join(approved.out.split())
    assert "gpu-dev-02" not in cli("scan", "--no-post").out  # stopped: nothing to recommend
    undone = cli("action", "undo", "1", "--as", APPROVER)
    assert undone.code == 0 and "started gpu-dev-02" in undone.out and "(request 2)" in undone.out
    audit = " ".join(cli("audit").out.split())
    assert "start" in audit and "stopped g5.12xlarge x1 → running g5.12xlarge x1" in audit
    refused = cli("action", "stop", "no-such-box", "--as", APPROVER)
    assert refused.code == 1 and "no resource is called 'no-such-box'" in refused.err
    # a new demo puts every resource back as the demo organization describes it
    cli("action", "stop", "gpu-dev-02", "--as", "U0ADMIN01")
    assert cli("demo").code == 0
    assert "gpu-dev-02" in cli("scan", "--no-post").out


def test_digest_previews_for_every_team_in_a_pipe(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    """In a pipe: no progress bars, one summary line."""
    assert cli("demo").code == 0
    previews = tmp_path / "previews"
    result = cli("digest", "teams", "--preview", str(previews))
    assert result.code == 0 and result.err == ""
    (line,) = result.out.splitlines()
    assert line.startswith(f"Wrote 10 files to {previews} (5 digests in ") and line.endswith(" digests/s)")
    assert sorted(p.name for p in previews.glob("*.png")) == [f"digest-team-{t}-daily.png" for t in
                                                               ("data", "ml", "platform", "search", "vision")]
