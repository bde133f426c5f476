"""A local Socket Mode endpoint: says hello, sends envelopes, and records what the app sends back."""

from __future__ import annotations

import json
import queue
import threading
import time
from typing import Any

from websockets.sync.server import ServerConnection, serve


class SocketModeStub:
    def __init__(self) -> None:
        self.outbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self.received: list[dict[str, Any]] = []
        self.connected = threading.Event()
        self._server = serve(self._handle, "127.0.0.1", 0)
        self.port = self._server.socket.getsockname()[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/link"

    def start(self) -> SocketModeStub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()

    def send(self, envelope: dict[str, Any]) -> None:
        self.outbox.put(envelope)

    def wait_for_ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for msg in list(self.received):
                if msg.get("envelope_id") == envelope_id:
                    return msg
            time.sleep(0.02)
        raise AssertionError(f"no ack for {envelope_id}; received {self.received}")

    def _handle(self, conn: ServerConnection) -> None:
        conn.send(json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A111"}}))
        self.connected.set()
        while True:
            try:
                envelope = self.outbox.get(timeout=0.05)
                conn.send(json.dumps(envelope))
            except queue.Empty:
                pass
            try:
                message = conn.recv(timeout=0.05)
            except TimeoutError:
                continue
            except Exception:
                return
            self.received.append(json.loads(message))
