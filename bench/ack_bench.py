"""Slash-command latency over HTTP: 50 concurrent signed `/cost` requests against the demo store.

    python bench/ack_bench.py [--requests 50]

Prints p50/p99 time to the HTTP ack and p50/p95 time until the answer reaches the response_url, for costbot
(ack first, answer in a listener thread) and, in the same run, for a baseline bot that answers inside the
request before acking (the naive handler), with the ratio.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from serving import pct

from bot.app import Application
from bot.config import Settings
from bot.demo import write_demo_csv
from bot.domain.query import Query
from bot.render import answer_blocks
from bot.web import CostbotWsgi, make_server, run_until_closed
from tests.signing import command_body, signature
from tests.slack_stub import SlackStub

SECRET = "bench-secret"
TODAY = "2026-11-28"
QUESTIONS = ["team-ml last-week", "last-month by team", "mtd by service top 5", "team-vision last-30d by resource",
             "untagged last-month by account", "ytd by month", "project:fraud last-30d by service",
             "team-data 2026-Q3 by month", "last-90d by team", "service:sagemaker mtd by resource top 5"]


def naive_app(services: Any) -> Any:
    """Baseline: the answer is computed inside the request, then acked with it."""
    from slack_bolt import App

    from bot.app import build_web_client

    app = App(client=build_web_client(services.settings), signing_secret=SECRET, process_before_response=True)

    @app.command("/cost")
    def cost(ack: Any, command: dict[str, Any]) -> None:
        query = services.use_cases.answers.parse(command["text"])
        assert isinstance(query, Query)
        result = services.use_cases.answers.answer(query)
        ack(blocks=answer_blocks.answer_blocks(result, command["text"]), response_type="ephemeral")

    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_bot_process(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """`costbot serve --http` in its own process, as it runs in production."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--http", "--host", "127.0.0.1"],
                            env={**os.environ, **env, "PORT": str(port), "COSTBOT_LOG_LEVEL": "WARNING"},
                            cwd=Path(__file__).resolve().parents[1])
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1):
                return proc, url + "/slack/events"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the bot did not start")


async def _load(url: str, bodies: list[bytes]) -> list[tuple[float, float]]:
    """Send all requests at once from one event loop; returns (start, ack seconds) per request."""
    import asyncio

    parsed = urllib.parse.urlparse(url)

    async def one(body: bytes) -> tuple[float, float]:
        ts = str(int(time.time()))
        head = (f"POST {parsed.path} HTTP/1.1\r\nHost: {parsed.netloc}\r\n"
                f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
                f"X-Slack-Request-Timestamp: {ts}\r\nX-Slack-Signature: {signature(SECRET, ts, body)}\r\n"
                "Connection: close\r\n\r\n").encode()
        start = time.time()
        t = time.perf_counter()
        reader, writer = await asyncio.open_connection(parsed.hostname, parsed.port)
        writer.write(head + body)
        await writer.drain()
        status = await reader.readline()
        elapsed = time.perf_counter() - t
        assert b" 200 " in status, status
        writer.close()
        return start, elapsed

    return await asyncio.gather(*(one(b) for b in bodies))


def load_phase(url: str, bodies_file: str) -> None:
    import asyncio
    import json

    bodies = [b.encode() for b in json.loads(Path(bodies_file).read_text())]
    print(json.dumps(asyncio.run(_load(url, bodies))))


def fire(url: str, stub: SlackStub, n: int, tag: str, wait_answers: bool) -> tuple[list[float], list[float]]:
    """Fire n signed commands from a separate load process (so the client does not share our GIL)."""
    import json

    stub.reset()
    bodies = [command_body(QUESTIONS[i % len(QUESTIONS)], stub.response_url(f"{tag}{i}")).decode() for i in range(n)]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(bodies, fh)
    out = subprocess.run([sys.executable, __file__, "--load", url, fh.name], capture_output=True, text=True)
    os.unlink(fh.name)
    if out.returncode != 0:
        raise RuntimeError("load generator failed: " + out.stderr[-2000:])
    results = json.loads(out.stdout.strip().splitlines()[-1])
    acks = [elapsed for _, elapsed in results]
    sent = {f"{tag}{i}": start for i, (start, _) in enumerate(results)}
    answers: list[float] = []
    if wait_answers:
        stub.wait_for(lambda cs: len([c for c in cs if c.kind == "response"]) >= n, timeout=60)
        answers = [c.wall - sent[c.name] for c in stub.responses()]
    return acks, answers


def run_inprocess(slack: Any, services: Any, stub: SlackStub, n: int) -> list[float]:
    server = make_server(CostbotWsgi(slack, services.health, signing_secret=SECRET), "127.0.0.1", 0)
    threading.Thread(target=run_until_closed, args=(server,), daemon=True).start()
    try:
        acks, _ = fire(f"http://127.0.0.1:{server.effective_port}/slack/events", stub, n, "naive", False)
    finally:
        server.close()
    return acks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--load", nargs=2, metavar=("URL", "BODIES_FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        load_phase(*args.load)
        return
    with tempfile.TemporaryDirectory(prefix="costbot-ackbench-") as tmp:
        data = Path(tmp)
        csv_path = data / "demo" / "focus-demo.csv"
        write_demo_csv(csv_path, date.fromisoformat(TODAY))
        stub = SlackStub().start()
        env = {"COSTBOT_DATA_DIR": str(data), "COSTBOT_TODAY": TODAY, "SLACK_BOT_TOKEN": "xoxb-bench",
               "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": stub.api_url}
        services = Application(Settings(env))
        services.use_cases.ingest.ingest([csv_path], source="demo")
        base_acks = run_inprocess(naive_app(services), services, stub, args.requests)
        services.close()
        proc, url = start_bot_process(env)
        try:
            fire(url, stub, 10, "warm", True)  # a running bot has served requests before
            acks, answers = fire(url, stub, args.requests, "costbot", True)
        finally:
            proc.terminate()
            proc.wait(10)
        stub.stop()
    n = args.requests
    print(f"{n} concurrent signed /cost requests over HTTP, demo store, 2 cores")
    print(f"costbot  ack:    p50 {pct(acks, .5) * 1000:6.1f} ms   p99 {pct(acks, .99) * 1000:6.1f} ms")
    print(f"costbot  answer: p50 {pct(answers, .5) * 1000:6.1f} ms   p95 {pct(answers, .95) * 1000:6.1f} ms "
          "(request sent -> answer at response_url)")
    print(f"baseline ack:    p50 {pct(base_acks, .5) * 1000:6.1f} ms   p99 {pct(base_acks, .99) * 1000:6.1f} ms "
          "(answer computed before the ack)")
    print(f"ratio (baseline / costbot) ack p99: {pct(base_acks, .99) / pct(acks, .99):.1f}x")


if __name__ == "__main__":
    main()
