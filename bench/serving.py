"""What the benchmarks share: a free port and waiting for `costbot serve` in its own process, and moto behind the
counting proxy for the AWS ones."""

from __future__ import annotations

import socket
import time
import urllib.request
from pathlib import Path
from typing import Any


def pct(values: list[float], q: float) -> float:
    """The `q` quantile of `values` (nearest rank): the p50 / p95 every benchmark reports."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def service_env(work: Path, data: Path, teams: list[str], slack_api_url: str, port: str, secret: str,
                **extra: str) -> dict[str, str]:
    """The environment of a `costbot serve` on `data` with one team per tag value in `teams` (its costbot.yml
    written in `work`), the Slack stub at `slack_api_url`, HTTP on `port`, and app state in SQLite in `work`."""
    import os

    config = work / "costbot.yml"
    config.write_text("teams:\n" + "".join(f"  team-{x}: {{tags: {{team: {x}}}}}\n" for x in teams))
    env = {**os.environ, "COSTBOT_DATA_DIR": str(data), "COSTBOT_CONFIG": str(config),
           "SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": secret, "SLACK_API_URL": slack_api_url,
           "PORT": port, "DATABASE_URL": f"sqlite:///{work / 'state.db'}", **extra}
    env.pop("SLACK_APP_TOKEN", None)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, seconds: float = 60) -> None:
    """Until `url`/healthz answers (the service is up), or RuntimeError after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("costbot serve did not start")


def counted_aws() -> tuple[Any, Any]:
    """moto in server mode behind the counting proxy, with boto3 pointed at it (AWS_ENDPOINT_URL and dummy keys):
    the AWS benches count every request by operation. Returns (server, proxy); stop both when done."""
    import os

    from moto.server import ThreadedMotoServer

    from tests.aws_proxy import CountingProxy

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    proxy = CountingProxy(host, port)
    os.environ.update({"AWS_ENDPOINT_URL": proxy.url, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1"})
    return server, proxy
