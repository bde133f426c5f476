"""A small Slack Web API stub on 127.0.0.1: records every call and answers like Slack does.

It serves the Web API under /api/, response_url posts under /response/<id>, and file uploads under /upload/<id>.
`fail(method, status, times, headers)` makes the next calls of a method fail (e.g. 429 with Retry-After).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Call:
    kind: str  # "api" | "response" | "upload"
    name: str  # API method, response id or file id
    args: dict[str, Any]
    raw: bytes
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)
    wall: float = field(default_factory=time.time)


class SlackStub:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._failures: dict[str, list[tuple[int, dict[str, str]]]] = {}
        self._ts = 1700000000.0
        self.channels: dict[str, str] = {}  # name -> id, for conversations.list
        self.socket_url = ""  # what apps.connections.open hands out (a local websocket stub)
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                stub._handle(self, raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # -- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> SlackStub:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/response/{name}"

    # -- control -----------------------------------------------------------------------------------------
    def fail(self, method: str, status: int = 429, times: int = 1, headers: dict[str, str] | None = None) -> None:
        with self._lock:
            self._failures.setdefault(method, []).extend([(status, headers or {})] * times)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self._failures.clear()

    def api_calls(self, method: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.kind == "api" and (method is None or c.name == method)]

    def responses(self, name: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.kind == "response" and (name is None or c.name == name)]

    def wait_for(self, predicate: Callable[[list[Call]], bool], timeout: float = 10.0) -> list[Call]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                snapshot = list(self.calls)
            if predicate(snapshot):
                return snapshot
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting; calls were: {[(c.kind, c.name) for c in snapshot]}")

    # -- serving -----------------------------------------------------------------------------------------
    def _reply(self, handler: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None,
               content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            handler.send_header(k, v)
        handler.end_headers()
        handler.wfile.write(data)

    def _handle(self, handler: BaseHTTPRequestHandler, raw: bytes) -> None:
        path = urllib.parse.urlparse(handler.path).path
        headers = {k.lower(): v for k, v in handler.headers.items()}
        ctype = headers.get("content-type", "")
        args: dict[str, Any] = {}
        if path.startswith("/upload/"):
            pass  # the file's bytes, kept raw
        elif "json" in ctype and raw:
            args = json.loads(raw)
        elif "x-www-form-urlencoded" in ctype and raw:
            args = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode(), keep_blank_values=True).items()}
            for key in ("blocks", "files", "view", "attachments"):
                if isinstance(args.get(key), str):
                    args[key] = json.loads(args[key])
        parts = path.strip("/").split("/", 1)
        kind, name = parts[0], (parts[1] if len(parts) > 1 else "")
        with self._lock:
            failures = self._failures.get(name) if kind == "api" else None
            failure = failures.pop(0) if failures else None
            self.calls.append(Call(kind, name, args, raw, headers))
        if failure is not None:
            status, extra = failure
            self._reply(handler, status, {"ok": False, "error": "ratelimited"}, extra)
            return
        if kind == "response":
            self._reply(handler, 200, b"ok", content_type="text/plain")
            return
        if kind == "upload":
            self._reply(handler, 200, b"OK - " + str(len(raw)).encode(), content_type="text/plain")
            return
        self._reply(handler, 200, self._api(name, args))

    def _api(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._ts += 1
            ts = f"{self._ts:.6f}"
        if method == "auth.test":
            return {"ok": True, "url": "https://stub.example/", "team": "Stub", "user": "costbot",
                    "team_id": "T111", "user_id": "UBOT", "bot_id": "BBOT"}
        if method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts") or ts,
                    "message": {"text": args.get("text"), "ts": ts}}
        if method == "files.getUploadURLExternal":
            file_id = f"F{int(self._ts)}"
            return {"ok": True, "upload_url": f"http://127.0.0.1:{self.port}/upload/{file_id}", "file_id": file_id}
        if method == "files.completeUploadExternal":
            files = args.get("files") or []
            return {"ok": True, "files": [{"id": f.get("id"), "title": f.get("title")} for f in files]}
        if method in ("views.publish", "views.open", "views.update"):
            return {"ok": True, "view": {"id": "V1"}}
        if method == "conversations.list":
            return {"ok": True, "channels": [{"id": cid, "name": name} for name, cid in self.channels.items()],
                    "response_metadata": {"next_cursor": ""}}
        if method == "apps.connections.open":
            return {"ok": True, "url": self.socket_url}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D111"}}
        return {"ok": True}
