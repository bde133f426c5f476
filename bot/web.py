"""HTTP mode: a WSGI app served by waitress's thread pool.

Routes: `POST /slack/events` (Slack, behind the intake gate; HTTP mode only), `GET /healthz` (liveness,
nothing else), and for a bearer of COSTBOT_ADMIN_TOKEN `GET /admin/status` (version and store details) and
`GET /metrics` (Prometheus). Admin routes share one guard. In Socket Mode the same server runs without the
Slack route, so a container probe and Prometheus find the process on the same port either way.

The gate (`SlackIntake`) verifies a request completely before Bolt sees it: size, signature, content type
and body shape. Nothing acts on, replies to or logs an unverified request; it gets 401, 400, 413 or 415. A
verified request sent again byte for byte (a replay within Slack's five-minute window) is answered 200 and
not acted on a second time.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.adapter.wsgi.http_response import WsgiHttpResponse
from slack_bolt.request import BoltRequest
from slack_sdk.signature import SignatureVerifier

log = logging.getLogger("costbot.web")

SLACK_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
ADMIN_STATUS_PATH = "/admin/status"
METRICS_PATH = "/metrics"

MAX_BODY_BYTES = 1024 * 1024  # Slack sends a few KB; anything larger is refused before it is read
REPLAY_WINDOW_SECONDS = 6 * 60  # Slack's signatures are valid for five minutes
MEDIA_TYPES = frozenset({"application/x-www-form-urlencoded", "application/json"})
VERIFIED = "costbot_signature_verified"  # set in a Bolt request's context by the gate, and only by it

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")

StartResponse = Callable[..., Any]
Environ = dict[str, Any]


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, status: int, payload: dict[str, Any], *headers: tuple[str, str]) -> Reply:
        return cls(status, json.dumps(payload).encode(), [("Content-Type", "application/json"), *headers])


class Rejected(Exception):
    """A request the gate refuses; `reason` is ours (never an echo of the request)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class ReplayGuard:
    """Signatures seen in the last `window` seconds: a signed request is acted on once per process. (A replay
    to another replica is judged there again: actions are kept once per click by the state database.)"""

    def __init__(self, window: float = REPLAY_WINDOW_SECONDS, capacity: int = 100_000) -> None:
        self.window = window
        self.capacity = capacity
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def first_time(self, signature: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if len(self._seen) >= self.capacity:
                self._seen = {s: t for s, t in self._seen.items() if t > now}
            if self._seen.get(signature, 0.0) > now:
                return False
            if len(self._seen) < self.capacity:
                self._seen[signature] = now + self.window
            return True


class SlackIntake:
    """Admits a Slack request only once it is verified, then hands the already-read body to Bolt.

    Order: size (413, before reading), signature (401: integer timestamp within 5 minutes, `v0=` + 64 hex,
    constant-time HMAC), media type (415), body shape (400). Bolt's own verification stays on behind it;
    the VERIFIED mark in the Bolt context tells the error handler that it may answer the request.
    """

    def __init__(self, app: App, signing_secret: str) -> None:
        self.app = app
        self.verifier = SignatureVerifier(signing_secret)
        self.replays = ReplayGuard()

    def __call__(self, environ: Environ) -> Reply:
        try:
            request = self.admit(environ)
        except Rejected as rejected:
            return Reply.json(rejected.status, {"error": rejected.reason})
        if not self.replays.first_time(environ.get("HTTP_X_SLACK_SIGNATURE", "")):
            log.info("a signed Slack request arrived again within five minutes: acknowledged, not acted on")
            return Reply(200)
        response = self.app.dispatch(request)
        wsgi = WsgiHttpResponse(status=response.status, headers=response.headers, body=response.body)
        return Reply(response.status, b"".join(wsgi.get_body()), wsgi.get_headers())

    def admit(self, environ: Environ) -> BoltRequest:
        raw = read_body(environ, MAX_BODY_BYTES)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Rejected(400, "the body is not UTF-8") from None
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
        signature = environ.get("HTTP_X_SLACK_SIGNATURE", "")
        if not (_TIMESTAMP.fullmatch(timestamp) and _SIGNATURE.fullmatch(signature)):
            raise Rejected(401, "missing or malformed signature headers")
        if not self.verifier.is_valid(text, timestamp, signature):  # also refuses timestamps 5+ minutes off
            raise Rejected(401, "invalid signature")
        media_type = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
        if media_type not in MEDIA_TYPES:
            raise Rejected(415, "expected application/x-www-form-urlencoded or application/json")
        if not text:
            raise Rejected(400, "empty body")
        try:  # Bolt parses the body and reads the context from it here
            request = BoltRequest(body=text, query=environ.get("QUERY_STRING", ""),
                                  headers=WsgiHttpRequest(environ).get_headers(), context={VERIFIED: True})
        except Exception as exc:  # any shape Bolt cannot read is the sender's error, not ours
            log.warning("a signed Slack request had a malformed body (%s)", type(exc).__name__)
            raise Rejected(400, "malformed body") from None
        if not isinstance(request.body, dict) or not request.body:
            raise Rejected(400, "malformed body")
        return request


def read_body(environ: Environ, limit: int) -> bytes:
    """At most `limit` bytes of the body, refusing a larger declared length before reading anything."""
    declared = environ.get("CONTENT_LENGTH") or ""
    stream = environ.get("wsgi.input")
    if declared:
        if not declared.isdigit():
            raise Rejected(400, "invalid Content-Length")
        if int(declared) > limit:
            raise Rejected(413, f"the body is larger than {limit} bytes")
        body = stream.read(int(declared)) if stream is not None and int(declared) else b""
        if len(body) != int(declared):
            raise Rejected(400, "the body is shorter than its Content-Length")
        return body
    body = stream.read(limit + 1) if stream is not None else b""  # no length given: read a bounded amount
    if len(body) > limit:
        raise Rejected(413, f"the body is larger than {limit} bytes")
    return body


Route = Callable[[Environ], Reply]
Metrics = Callable[[], tuple[bytes, str]]  # the exposition text and its content type


class CostbotWsgi:
    """The WSGI app: routes by method and path; anything else is 404 or 405 without touching Bolt."""

    def __init__(self, app: App | None, status: Callable[[], dict[str, Any]], *, signing_secret: str | None,
                 admin_token: str | None = None, metrics: Metrics | None = None) -> None:
        """`app` None (Socket Mode): no Slack route; health, status and metrics only."""
        self.status = status
        self.metrics_text = metrics
        self._admin_token = admin_token.encode() if admin_token else None
        self.routes: dict[str, dict[str, Route]] = {
            HEALTH_PATH: {"GET": self.healthz, "HEAD": self.healthz},
            ADMIN_STATUS_PATH: {"GET": self.admin_only(self.admin_status)},
        }
        if metrics is not None:
            self.routes[METRICS_PATH] = {"GET": self.admin_only(self.metrics)}
        if app is not None:
            if not signing_secret:
                raise ValueError("the Slack route needs the signing secret")
            self.routes[SLACK_PATH] = {"POST": SlackIntake(app, signing_secret)}

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        methods = self.routes.get(environ.get("PATH_INFO", ""))
        if methods is None:
            reply = Reply.json(404, {"error": "not found"})
        elif (route := methods.get(environ.get("REQUEST_METHOD", ""))) is None:
            reply = Reply.json(405, {"error": "method not allowed"}, ("Allow", ", ".join(sorted(methods))))
        else:
            reply = route(environ)
        headers = [(k, v) for k, v in reply.headers if k.lower() != "content-length"]
        start_response(f"{reply.status} {HTTPStatus(reply.status).phrase}",
                       [*headers, ("Content-Length", str(len(reply.body)))])
        return [reply.body]

    def healthz(self, environ: Environ) -> Reply:
        """Liveness only: says nothing about the version or the data."""
        return Reply.json(200, {"status": "ok"})

    def admin_status(self, environ: Environ) -> Reply:
        try:
            return Reply.json(200, self.status())
        except Exception:  # a broken store must show as unhealthy, not as a crash
            log.exception("status check failed")
            return Reply.json(503, {"status": "error"})

    def metrics(self, environ: Environ) -> Reply:
        assert self.metrics_text is not None
        body, content_type = self.metrics_text()
        return Reply(200, body, [("Content-Type", content_type)])

    def admin_only(self, route: Route) -> Route:
        """404 while COSTBOT_ADMIN_TOKEN is unset; 401 without `Authorization: Bearer <token>`."""

        def guarded(environ: Environ) -> Reply:
            if self._admin_token is None:
                return Reply.json(404, {"error": "not found"})
            scheme, _, presented = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
            # WSGI headers are latin-1 strings: encoding back gives the bytes that were sent
            given = presented.strip().encode("latin-1", "replace") if scheme.lower() == "bearer" else b""
            if not hmac.compare_digest(given, self._admin_token):
                return Reply.json(401, {"error": "unauthorized"}, ("WWW-Authenticate", 'Bearer realm="costbot"'))
            return route(environ)

        return guarded


class HttpServer:
    """waitress with a body cap and a graceful stop.

    `serve(stop, drain_seconds)` runs the event loop in the calling thread until `stop` is set (a signal handler
    may set it), then stops accepting connections, lets requests in progress finish and their answers go out
    (for at most `drain_seconds`), closes idle keep-alive connections and returns whether everything finished.
    """

    POLL_SECONDS = 0.2  # how soon the loop notices `stop`

    def __init__(self, wsgi: Any, host: str, port: int, threads: int = 16) -> None:
        from waitress.server import create_server

        self._map: dict[int, Any] = {}
        # waitress refuses (413) a body of max_request_body_size bytes or more before buffering it
        self.waitress = create_server(wsgi, map=self._map, host=host, port=port, threads=threads, ident="costbot",
                                      max_request_body_size=MAX_BODY_BYTES + 1)

    @property
    def effective_port(self) -> int:
        return int(self.waitress.effective_port)

    @property
    def socket(self) -> Any:
        return self.waitress.socket

    def run(self) -> None:
        """Serve until `close()` is called from another thread (no draining); see `serve` for a graceful stop."""
        self.waitress.run()

    def close(self) -> None:
        self.waitress.close()

    def serve(self, stop: threading.Event, drain_seconds: float) -> bool:
        while not stop.is_set():
            self._poll()
        server = self.waitress
        server.del_channel()  # stop taking work: new connections are refused from here on
        server.socket.close()
        deadline = time.monotonic() + drain_seconds
        drained = False
        while time.monotonic() < deadline:
            busy = False
            for channel in list(server.active_channels.values()):
                if channel.requests or channel.total_outbufs_len:
                    busy = True
                elif not channel.will_close:
                    channel.will_close = True  # idle keep-alive connection: closed on the next loop turn
            if not busy and not server.active_channels:
                drained = True
                break
            self._poll()
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=max(0.0, deadline - time.monotonic()))
        server.asyncore.close_all(self._map)  # the remaining connections and the loop's trigger
        if not drained:
            log.warning("stopped with HTTP requests still in progress")
        return drained

    def _poll(self) -> None:
        self.waitress.asyncore.loop(timeout=self.POLL_SECONDS, map=self._map,
                                    use_poll=self.waitress.adj.asyncore_use_poll, count=1)


def run_until_closed(server: Any) -> None:
    """Serve until `server.close()` is called from another thread (which ends the select loop abruptly)."""
    try:
        server.run()
    except (OSError, ValueError):
        sock = getattr(server, "socket", None)
        if sock is not None and sock.fileno() != -1:  # not closed on purpose
            raise


def make_server(wsgi: Any, host: str, port: int, threads: int = 16) -> HttpServer:
    """A server (not started); `.serve(stop, drain)` or `.run()` serves, `.effective_port` is the real port."""
    return HttpServer(wsgi, host, port, threads)
