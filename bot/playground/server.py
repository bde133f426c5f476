"""The playground's wiring and its HTTP routes.

Two servers on this machine: the app (the `Application`'s own WSGI app, exactly as `costbot serve --http`
runs it, on a private loopback port) and the page (this module's routes). The page is Slack to the app: the
app's Web API calls (`SLACK_API_URL`), response_urls and file uploads come here, and the page's commands,
clicks and App Home visits go to the app as signed requests (a signing secret made for this run, never sent
to the browser). Fast forward runs the scheduler's jobs now.

Page routes: `GET /` (and its script and style), `GET /ui/state?after=SEQ` (long poll), `POST /ui/command`,
`/ui/action`, `/ui/home`, `/ui/fast-forward` (JSON from the page's own origin only). Slack routes:
`/api/<method>`, `/response/<id>`, `/upload/<file id>`, `GET /files/<file id>`.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any, Protocol

from bot.config import CostbotConfig
from bot.domain.errors import ConfigError
from bot.playground import signing
from bot.playground.workspace import BOT_USER, PLAYER, Person, ResponseTarget, Workspace, decode_args, dm_id
from bot.web import HttpServer, Rejected, make_server, read_body, run_until_closed

log = logging.getLogger("costbot.playground")

#: the slash command's hint, as the app manifest gives it to Slack (a unit test keeps the two equal)
USAGE_HINT = "team-ml last-week · last-month by team · team-ml mtd by service top 5 · idle · budget team-ml · help"
MAX_UI_BODY = 64 * 1024
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_COMMAND_TEXT = 4000
LONG_POLL_SECONDS = 20.0
MAX_DIGEST_LOOKAHEAD = 1000  # scheduled times a fast forward looks past already-posted ones
STATIC = {"/": ("index.html", "text/html; charset=utf-8"), "/favicon.svg": ("favicon.svg", "image/svg+xml"),
          "/app.js": ("app.js", "text/javascript; charset=utf-8"),
          "/app.css": ("app.css", "text/css; charset=utf-8")}
SECURITY_HEADERS = [("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"),
                    ("Content-Security-Policy", "default-src 'self'; img-src 'self'; object-src 'none'; "
                                                "base-uri 'none'; frame-ancestors 'none'")]
_FILE_ID = re.compile(r"F[0-9]{8}")
_RESPONSE_ID = re.compile(r"R[0-9]{6}")

StartResponse = Callable[..., Any]


class Backend(Protocol):
    """What the playground needs of the composition root (`bot.app.Application`)."""

    config: CostbotConfig

    @property
    def use_cases(self) -> Any: ...

    def hold_store(self) -> None: ...

    def slack_app(self, socket_mode: bool = False) -> Any: ...

    def wsgi(self, slack: Any) -> Any: ...

    def scheduler(self, **options: Any) -> Any: ...

    def close(self) -> None: ...


#: builds the app with these environment settings on top of the process's own (SLACK_API_URL, the bot
#: token and the signing secret of this run)
BackendFactory = Callable[[dict[str, str]], Backend]


class BadRequest(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"

    @classmethod
    def json(cls, payload: Any, status: int = 200) -> Reply:
        return cls(status, json.dumps(payload).encode())


def people_of(config: CostbotConfig) -> list[Person]:
    """Who the page lets you act as: someone with no approvals, each team's members and approvers, the admins."""
    people: dict[str, Person] = {PLAYER: Person(PLAYER, "Alex (analyst)", "team member, approves nothing")}
    for team, settings in config.teams.items():
        for user in settings.approvers:
            people.setdefault(user, Person(user, f"{team} approver", f"approves {team}'s actions"))
        for user in settings.members:
            people.setdefault(user, Person(user, f"{team} member", f"member of {team}"))
    for user in config.admins:
        people.setdefault(user, Person(user, "admin", "costbot admin: approves anything"))
    return list(people.values())


def channels_of(config: CostbotConfig) -> list[str]:
    names = [str(team.channel).lstrip("#") for team in config.teams.values() if team.channel]
    if config.owners_channel:
        names.append(config.owners_channel.lstrip("#"))
    return list(dict.fromkeys(names)) or ["general"]


class Playground:
    """The page server, the app behind it and the workspace between them. `start()` returns once both serve."""

    def __init__(self, build: BackendFactory, host: str = "127.0.0.1", port: int = 3000) -> None:
        self.build = build
        self.host = host
        self.port = port
        self.signing_secret = secrets.token_hex(32)
        self.bot_token = "xoxb-playground-" + secrets.token_hex(12)
        self.backend: Backend | None = None
        self.workspace: Workspace | None = None
        self.app_url = ""
        self._servers: list[HttpServer] = []
        self._triggers = itertools.count(1)
        self._lock = threading.Lock()

    # -- lifecycle ----------------------------------------------------------------------------------------------
    def start(self) -> Playground:
        try:
            page = make_server(self, self.host, self.port)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {self.host}:{self.port} ({exc.strerror or exc}): "
                              "choose another with --port") from None
        self._serve(page)
        self.port = page.effective_port
        try:
            self.backend = self.build({"SLACK_API_URL": f"{self.local_url}/api/", "SLACK_BOT_TOKEN": self.bot_token,
                                       "SLACK_SIGNING_SECRET": self.signing_secret})
            self.workspace = Workspace(channels_of(self.backend.config), people_of(self.backend.config),
                                       self.bot_token, self.local_url)
            self.backend.hold_store()
            app = make_server(self.backend.wsgi(self.backend.slack_app()), "127.0.0.1", 0)
        except BaseException:
            self.stop()
            raise
        self._serve(app)
        self.app_url = f"http://127.0.0.1:{app.effective_port}/slack/events"
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.close()
        if self.backend is not None:
            self.backend.close()

    @property
    def url(self) -> str:
        """The page's address as printed for people (the host it listens on)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}/"

    @property
    def local_url(self) -> str:
        """Where the app reaches the page's Slack routes (always this machine)."""
        return f"http://127.0.0.1:{self.port}"

    def _serve(self, server: HttpServer) -> None:
        self._servers.append(server)
        threading.Thread(target=run_until_closed, args=(server,), daemon=True, name="costbot-playground").start()

    # -- WSGI ---------------------------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            reply = self.route(environ)
        except (BadRequest, Rejected) as bad:  # Rejected: a body over its size limit (bot.web.read_body)
            reply = Reply.json({"ok": False, "error": bad.reason}, bad.status)
        except Exception:
            log.exception("the playground could not handle %s", environ.get("PATH_INFO"))
            reply = Reply.json({"ok": False, "error": "internal error (see the terminal)"}, 500)
        headers = [("Content-Type", reply.content_type), ("Content-Length", str(len(reply.body))),
                   ("Cache-Control", "no-store"), *SECURITY_HEADERS]
        start_response(f"{reply.status} {'OK' if reply.status < 400 else 'Error'}", headers)
        return [reply.body]

    def route(self, environ: dict[str, Any]) -> Reply:
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "/")
        if self.workspace is None:
            raise BadRequest(503, "the playground is starting")
        ws = self.workspace
        if method == "GET" and path in STATIC:
            name, content_type = STATIC[path]
            return Reply(200, resources.files("bot.playground").joinpath("static", name).read_bytes(), content_type)
        if method == "GET" and path.startswith("/files/") and _FILE_ID.fullmatch(path[7:]):
            upload = ws.file(path[7:])
            if upload is None or not upload.data:
                raise BadRequest(404, "no such file")
            return Reply(200, upload.data, "image/png" if upload.name.endswith(".png") else "application/octet-stream")
        if method == "POST" and path.startswith("/api/"):
            raw = read_body(environ, 16 * 1024 * 1024)
            args = decode_args(environ.get("QUERY_STRING", ""), environ.get("CONTENT_TYPE", ""), raw)
            return Reply.json(ws.call(path[5:], args, environ.get("HTTP_AUTHORIZATION", "")))
        if method == "GET" and path.startswith("/api/"):  # slack_sdk sends a few methods (conversations.list) as GET
            args = decode_args(environ.get("QUERY_STRING", ""), "", b"")
            return Reply.json(ws.call(path[5:], args, environ.get("HTTP_AUTHORIZATION", "")))
        if method == "POST" and path.startswith("/response/") and _RESPONSE_ID.fullmatch(path[10:]):
            payload = json.loads(read_body(environ, 1024 * 1024) or b"{}")
            if not ws.respond(path[10:], payload):
                raise BadRequest(404, "no such response_url")
            return Reply(200, b"ok", "text/plain")
        if method == "POST" and path.startswith("/upload/") and _FILE_ID.fullmatch(path[8:]):
            if not ws.upload(path[8:], read_body(environ, 16 * 1024 * 1024)):
                raise BadRequest(404, "no such upload")
            return Reply(200, f"OK - {environ.get('CONTENT_LENGTH', '0')}".encode(), "text/plain")
        if path == "/ui/state" and method == "GET":
            self._same_origin(environ)
            after = environ.get("QUERY_STRING", "").partition("after=")[2].split("&")[0]
            if after.lstrip("-").isdigit():
                ws.wait(int(after), LONG_POLL_SECONDS)
            return Reply.json({**ws.snapshot(), "usage_hint": USAGE_HINT, "command": "/cost"})
        ui = {"/ui/command": self.command, "/ui/action": self.action, "/ui/home": self.home,
              "/ui/fast-forward": self.fast_forward}.get(path)
        if ui is not None and method == "POST":
            self._same_origin(environ)
            if environ.get("CONTENT_TYPE", "").split(";")[0].strip() != "application/json":
                raise BadRequest(415, "expected application/json")
            try:
                body = json.loads(read_body(environ, MAX_UI_BODY) or b"{}")
            except ValueError:
                raise BadRequest(400, "the body is not JSON") from None
            if not isinstance(body, dict):
                raise BadRequest(400, "the body is not a JSON object")
            return Reply.json({"ok": True, **ui(body)})
        if ui is None and path not in STATIC:
            raise BadRequest(404, "not found")
        raise BadRequest(405, "method not allowed")

    def _same_origin(self, environ: dict[str, Any]) -> None:
        """The page's own routes answer only the page: a request from another site (its Origin) or through another
        name for this address (DNS rebinding: its Host) is refused."""
        host = environ.get("HTTP_HOST", "")
        allowed = {f"127.0.0.1:{self.port}", f"localhost:{self.port}", f"[::1]:{self.port}", f"{self.host}:{self.port}"}
        if host not in allowed and self.host in LOOPBACK:  # listening beyond loopback was asked for: any name
            raise BadRequest(403, "unknown Host")
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None and origin != f"http://{host}":
            raise BadRequest(403, "cross-origin request refused")

    # -- what the page does -------------------------------------------------------------------------------------
    def command(self, body: dict[str, Any]) -> dict[str, Any]:
        """`/cost TEXT` typed in a channel: sent to the app as Slack sends a slash command."""
        ws = self._ws()
        user, channel = self._person(body), self._channel(body)
        raw = str(body.get("text") or "").strip()
        command, _, text = raw.partition(" ")
        if command != "/cost":
            raise BadRequest(400, f"{command or 'that'} is not a command here: costbot's command is /cost")
        if len(text) > MAX_COMMAND_TEXT:
            raise BadRequest(400, f"the command is longer than {MAX_COMMAND_TEXT} characters")
        ws.say(channel, user, raw, ephemeral_to=user)
        url = ws.response_url(ResponseTarget(channel, user))
        name = ws.channels.get(channel, "costbot")
        sent = signing.slash_command(text.strip(), user, channel, name, url, self._trigger())
        self._send(signing.sign(self.signing_secret, sent, "application/x-www-form-urlencoded"), channel, user)
        return {}

    def action(self, body: dict[str, Any]) -> dict[str, Any]:
        """A button click on a message (or in App Home): the button is looked up in what Slack holds, so its
        value is the one costbot sent, never one from the page."""
        ws = self._ws()
        user = self._person(body)
        action_id, block_id = str(body.get("action_id") or ""), str(body.get("block_id") or "")
        if body.get("home"):
            view = ws.homes.get(user)
            if view is None:
                raise BadRequest(404, "no App Home view for this person yet")
            button = _button(view.get("blocks") or [], action_id, block_id)
            action = _action_payload(button, block_id)
            in_view = {"type": "view", "view_id": f"V{user}"}
            sent = signing.block_actions(action, user, in_view, None, self._trigger(), view=view)
            self._send(signing.sign(self.signing_secret, sent, "application/x-www-form-urlencoded"), dm_id(user),
                       user)
            return {}
        channel, ts = self._channel(body), str(body.get("ts") or "")
        message = ws.message(channel, ts)
        if message is None or (message.ephemeral_to not in (None, user)):
            raise BadRequest(404, "no such message")
        button = _button(message.blocks, action_id, block_id)
        action = _action_payload(button, block_id)
        container: dict[str, Any] = {"type": "message", "message_ts": ts, "channel_id": channel,
                     "is_ephemeral": message.ephemeral_to is not None}
        url = ws.response_url(ResponseTarget(channel, user, ts))
        shown = None if message.ephemeral_to else {"type": "message", "ts": ts, "user": message.user,
                                                   "text": message.text, "blocks": message.blocks}
        sent = signing.block_actions(action, user, container, url, self._trigger(), message=shown)
        self._send(signing.sign(self.signing_secret, sent, "application/x-www-form-urlencoded"), channel, user)
        return {}

    def home(self, body: dict[str, Any]) -> dict[str, Any]:
        """Opening the App Home tab: Slack's `app_home_opened` event; the app answers with views.publish."""
        user = self._person(body)
        inner = {"type": "app_home_opened", "user": user, "channel": dm_id(user), "tab": "home",
                 "event_ts": f"{time.time():.6f}"}
        sent = signing.event(inner, f"Ev{self._trigger().replace('.', '')}")
        self._send(signing.sign(self.signing_secret, sent, "application/json"), dm_id(user), user)
        return {}

    def fast_forward(self, body: dict[str, Any]) -> dict[str, Any]:
        """The scheduler's jobs now, as if their next time had come: each digest (at its next scheduled time, so
        it posts once), the scan, budget and anomaly alerts with enforcement, and the requests' upkeep."""
        from bot.jobs import trigger_for

        backend = self._backend()
        runner = backend.scheduler()
        digests = backend.use_cases.digests
        ran: list[str] = []
        with self._lock:  # one fast forward at a time
            digests.sync_config()
            now = datetime.now(UTC)
            for sub in digests.subscriptions():
                key = _next_unposted_run(trigger_for(sub), now, functools.partial(digests.run_status, sub.id or 0))
                if key is None:
                    continue
                runner.run_digest(sub.id, key)
                status = digests.run_status(sub.id or 0, key)
                ran.append(f"digest {sub.scope or 'all'} → {sub.channel} due {key[:16]} "
                           f"({status[0] if status else 'skipped'})")
            for name, job in (("scan", runner.run_scan), ("budget and anomaly alerts", runner.run_insights),
                              ("approval upkeep", runner.run_upkeep)):
                try:
                    job()
                    ran.append(name)
                except Exception as exc:  # one job failing does not stop the others; the log has the detail
                    log.warning("fast forward: %s failed: %s", name, type(exc).__name__)
                    ran.append(f"{name} (failed: {type(exc).__name__}, see the terminal)")
        return {"ran": ran}

    # -- helpers ------------------------------------------------------------------------------------------------
    def _ws(self) -> Workspace:
        assert self.workspace is not None
        return self.workspace

    def _backend(self) -> Backend:
        assert self.backend is not None
        return self.backend

    def _person(self, body: dict[str, Any]) -> str:
        user = str(body.get("user") or "")
        if user not in self._ws().people:
            raise BadRequest(400, f"unknown person '{user[:40]}'")
        return user

    def _channel(self, body: dict[str, Any]) -> str:
        channel = str(body.get("channel") or "")
        ws = self._ws()
        if channel not in ws.channels and channel not in {dm_id(u) for u in ws.people}:
            raise BadRequest(400, f"unknown channel '{channel[:40]}'")
        return channel

    def _trigger(self) -> str:
        return f"{int(time.time())}.{next(self._triggers)}"

    def _send(self, request: signing.SignedRequest, channel: str, user: str) -> None:
        """To the app, signed; a refusal is shown to the person as Slack shows a failed command."""
        status, answer = signing.post(self.app_url, request)
        if status != 200:
            log.warning("the app answered %s to a signed request", status)
            self._ws().say(channel, BOT_USER, f"costbot did not accept the request (HTTP {status}): "
                                              f"{answer[:200].decode(errors='replace')}", ephemeral_to=user)


def _next_unposted_run(trigger: Any, now: datetime, status: Callable[[str], Any]) -> str | None:
    """The digest's next scheduled time that has not run yet (its run key): each fast forward moves one
    scheduled time on, also across playground sessions on the same state database."""
    due = trigger.get_next_fire_time(None, now)
    for _ in range(MAX_DIGEST_LOOKAHEAD):
        if due is None:
            return None
        if status(due.isoformat()) is None:
            return str(due.isoformat())
        due = trigger.get_next_fire_time(due, due + timedelta(seconds=1))
    return None


def _button(blocks: list[dict[str, Any]], action_id: str, block_id: str) -> dict[str, Any]:
    for block in blocks:
        if block.get("type") != "actions" or (block_id and block.get("block_id") != block_id):
            continue
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id:
                return dict(element)
    raise BadRequest(404, f"no button {action_id[:60]} on that message")


def _action_payload(button: dict[str, Any], block_id: str) -> dict[str, Any]:
    return {"action_id": button["action_id"], "block_id": block_id, "type": button.get("type", "button"),
            "value": button.get("value", ""), "text": button.get("text"), "action_ts": f"{time.time():.6f}"}
