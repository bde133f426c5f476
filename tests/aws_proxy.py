"""A counting HTTP proxy in front of the moto server: records every AWS API operation that reaches it, and can
hold an operation back for a while (`delay`) or answer it with an AWS error instead of moto (`fail`)."""

from __future__ import annotations

import http.client
import threading
import time
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

S3_OPERATIONS = {("GET", "lifecycle"): "GetBucketLifecycleConfiguration",
                 ("PUT", "lifecycle"): "PutBucketLifecycleConfiguration",
                 ("DELETE", "lifecycle"): "DeleteBucketLifecycle", ("GET", "tagging"): "GetBucketTagging",
                 ("PUT", "tagging"): "PutBucketTagging", ("GET", "location"): "GetBucketLocation"}


class CountingProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.counts: Counter[str] = Counter()
        self.delays: dict[str, float] = {}
        self.failures: dict[str, tuple[int, bytes]] = {}
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                operation = proxy._record(self.headers, body, self.path, self.command)
                with proxy._lock:
                    delay = proxy.delays.get(operation, 0.0)
                    failure = proxy.failures.get(operation)
                if delay:
                    time.sleep(delay)
                if failure is not None:
                    status, payload = failure
                    self.send_response(status)
                    self.send_header("Content-Type", "text/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                conn = http.client.HTTPConnection(target_host, target_port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                headers["Host"] = f"{target_host}:{target_port}"
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "content-length", "connection", "server", "date"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _record(self, headers: Any, body: bytes, path: str, method: str = "POST") -> str:
        target = headers.get("X-Amz-Target")
        operation = target.split(".")[-1] if target else None
        if operation is None and "/operation/" in path:  # smithy RPC v2 (CBOR): the operation is in the path
            operation = path.rstrip("/").rsplit("/", 1)[-1]
        if operation is None and body:
            try:
                operation = urllib.parse.parse_qs(body.decode())["Action"][0]
            except (KeyError, UnicodeDecodeError, IndexError):
                operation = None
        if operation is None:  # S3's REST calls: the bucket sub-resource and the method name the operation
            operation = S3_OPERATIONS.get((method, urllib.parse.urlsplit(path).query.split("=")[0].split("&")[0]))
        if operation is None:
            operation = f"{'moto-api' if path.startswith('/moto-api') else 'other'}"
        with self._lock:
            self.counts[operation] += 1
        return operation

    def fail(self, operation: str, status: int, xml: str) -> None:
        """Answer every `operation` with this AWS error body (EC2's XML error shape) until `reset`."""
        with self._lock:
            self.failures[operation] = (status, xml.encode())

    def delay(self, operation: str, seconds: float) -> None:
        with self._lock:
            self.delays[operation] = seconds

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()
            self.delays.clear()
            self.failures.clear()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
