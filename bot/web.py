"""HTTP mode: a WSGI app (Slack at POST /slack/events, GET /healthz) served by waitress's thread pool."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

log = logging.getLogger("costbot.web")

SLACK_PATH = "/slack/events"
HEALTH_PATH = "/healthz"

StartResponse = Callable[..., Any]


class CostbotWsgi:
    def __init__(self, app: App, health: Callable[[], dict[str, Any]]) -> None:
        self.slack = SlackRequestHandler(app, path=SLACK_PATH)
        self.health = health

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == HEALTH_PATH and environ.get("REQUEST_METHOD") == "GET":
            try:
                body, status = json.dumps(self.health()).encode(), "200 OK"
            except Exception:  # a broken store must show as unhealthy, not as a crash
                log.exception("health check failed")
                body, status = json.dumps({"status": "error"}).encode(), "503 Service Unavailable"
            start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        return self.slack(environ, start_response)


def run_until_closed(server: Any) -> None:
    """Serve until `server.close()` is called from another thread (which ends the select loop abruptly)."""
    try:
        server.run()
    except (OSError, ValueError):
        sock = getattr(server, "socket", None)
        if sock is not None and sock.fileno() != -1:  # not closed on purpose
            raise


def make_server(wsgi: CostbotWsgi, host: str, port: int, threads: int = 16) -> Any:
    """A waitress server (not started); `.run()` serves, `.close()` stops, `.effective_port` is the real port."""
    from waitress.server import create_server

    return create_server(wsgi, host=host, port=port, threads=threads, ident="costbot")
