"""The cost store's local channel: the process that owns the DuckDB file answers the other costbot processes on
the same data folder over a Unix socket in that folder (`costbot.sock`).

DuckDB lets one process hold a database file. So the long-lived process that holds it (`costbot serve` or
`costbot scheduler`) serves the store's ports — queries, ingest, usage metrics — to the others, and a command
such as `costbot ingest` run beside it (`docker exec`, `kubectl exec`, a second container on the same volume)
becomes its client instead of failing on the lock.

Who may call: the socket file is created with mode 0600, and each connection's peer credentials (SO_PEERCRED)
must name the owner's own user or root — the kernel vouches for the caller, so there is no token to leak. The
messages are HTTP/1.1 with JSON bodies (bot/adapters/store_wire.py), at most 1 MB each.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import socket
import socketserver
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from bot import __version__
from bot.adapters import store_wire
from bot.domain.commitments import CommitmentReport
from bot.domain.errors import CostbotError, StoreBusy
from bot.domain.figures import DailyRow, Totals
from bot.domain.ingest import IngestSummary, SourceHolding
from bot.domain.spec import CostSpec, Grouping

log = logging.getLogger("costbot.store")

SOCKET_NAME = "costbot.sock"
MAX_MESSAGE_BYTES = 1024 * 1024
READ_TIMEOUT = 120.0  # a question; ingests and usage loads wait as long as they take
WRITES = frozenset({"ingest_files", "record_source_files", "record_sync", "clear_periods", "fold_kept_files",
                    "ingest_usage"})
_SUN_PATH_MAX = 100  # sockaddr_un holds 108 bytes on Linux (104 on macOS): longer paths go through /proc
WRITE_NICENESS = 10  # a write from a command runs at this CPU priority, below the service's answers


class StoreGone(Exception):
    """No process answers on the socket (none runs, or it stopped): nothing was sent."""


def socket_path(data_dir: Path) -> Path:
    return data_dir / SOCKET_NAME


@contextlib.contextmanager
def _addressable(path: Path) -> Iterator[str]:
    """An address for `path` that fits in a sockaddr_un: itself, or the same file through an open descriptor of
    its folder (/proc/self/fd/N/NAME) when the folder's path is long."""
    if len(os.fsencode(str(path))) < _SUN_PATH_MAX or not Path("/proc/self/fd").is_dir():
        yield str(path)
        return
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


def _peer_uid(sock: socket.socket) -> int | None:
    """The connecting process's user id as the kernel reports it (None where SO_PEERCRED is unknown)."""
    peercred = getattr(socket, "SO_PEERCRED", None)
    if peercred is None:
        return None
    raw = sock.getsockopt(socket.SOL_SOCKET, peercred, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", raw)
    return int(uid)


# -- the owner's side -----------------------------------------------------------------------------------------
class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    block_on_close = False  # closing never waits for a long ingest: its transaction is rolled back

    def __init__(self, address: str, handler: type[BaseHTTPRequestHandler], store: Any) -> None:
        self.store = store
        super().__init__(address, handler, bind_and_activate=False)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "costbot-store"

    def log_message(self, format: str, *args: Any) -> None:
        """http.server's access log is not ours: calls are logged by `_dispatch`."""

    def address_string(self) -> str:
        return "local"

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _allowed(self) -> bool:
        uid = _peer_uid(self.connection)
        if uid is None or uid in (os.getuid(), 0):
            return True
        log.warning("refused a store call from user id %s (only this user or root may call)", uid)
        return False

    def do_GET(self) -> None:
        if not self._allowed():
            self._reply(403, {"error": {"kind": "CostbotError", "message": "not allowed"}})
        elif self.path == "/v1/ping":
            self._reply(200, {"protocol": store_wire.VERSION, "version": __version__, "pid": os.getpid()})
        else:
            self._reply(404, {"error": {"kind": "CostbotError", "message": "not found"}})

    def do_POST(self) -> None:
        if not self._allowed():
            self._reply(403, {"error": {"kind": "CostbotError", "message": "not allowed"}})
            return
        length = self.headers.get("Content-Length", "")
        if self.path != "/v1/call" or not length.isdigit() or int(length) > MAX_MESSAGE_BYTES:
            self.close_connection = True
            self._reply(400, {"error": {"kind": "CostbotError", "message": "not a store call"}})
            return
        try:
            message = json.loads(self.rfile.read(int(length)))
            method = str(message["method"])
            args = {str(k): store_wire.decode(v) for k, v in dict(message.get("args") or {}).items()}
            if message.get("protocol") != store_wire.VERSION or method not in store_wire.METHODS:
                raise store_wire.WireError("unknown method or protocol")
        except (ValueError, KeyError, TypeError):
            self._reply(400, {"error": {"kind": "CostbotError", "message": "not a store call"}})
            return
        status, payload = _dispatch(self.server.store, method, args)
        self._reply(status, payload)


def yield_cpu_to_answers() -> None:
    """Lower this thread's CPU priority (Linux nice values are per thread; a connection's thread ends with it, the
    store's rest thread lives with the service): a long ingest or a compaction then takes the CPU the answers
    leave, instead of half of it."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), WRITE_NICENESS))
    except (AttributeError, OSError):  # not Linux, or not allowed: the write runs at normal priority
        pass


def _dispatch(store: Any, method: str, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    if method in WRITES:
        yield_cpu_to_answers()
    started = time.monotonic()
    outcome = "ok"
    try:
        result = getattr(store, method)(**_arguments(method, args))
        return 200, {"result": store_wire.encode(result)}
    except CostbotError as exc:
        outcome = type(exc).__name__
        return 200, {"error": store_wire.error_payload(exc)}
    except Exception:
        outcome = "failed"
        ref = uuid.uuid4().hex[:8]
        log.exception("store call %s failed (ref %s)", method, ref)
        return 500, {"error": {"kind": "CostbotError",
                               "message": f"the costbot service could not do this (ref {ref}; see its log)"}}
    finally:
        level = logging.INFO if method in WRITES else logging.DEBUG
        log.log(level, "store call %s from a local command: %s in %.3f s", method, outcome,
                time.monotonic() - started)


def _arguments(method: str, args: dict[str, Any]) -> dict[str, Any]:
    """Paths back to Paths and pairs back to tuples, where the port expects them."""
    if method == "ingest_files":
        args["paths"] = [Path(p) for p in args.get("paths") or ()]
        args["replace"] = [tuple(p) for p in args.get("replace") or ()]
        args["replace_sources"] = list(args.get("replace_sources") or ())
        args["complements"] = [tuple(p) for p in args.get("complements") or ()]
    elif method == "ingest_usage":
        args["path"] = Path(args["path"])
    elif method == "clear_periods":
        args["periods"] = [tuple(p) for p in args.get("periods") or ()]
    return args


class StoreServer:
    """Serves `store` on the socket at `path` until `close()`; the socket file is removed then (if still ours).

    Start it only while holding the store (its DuckDB lock): a socket file found at `path` is then a stale one,
    left by a process that died, and is replaced.
    """

    def __init__(self, path: Path, store: Any) -> None:
        self.path = path
        self.store = store
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._inode: int | None = None

    def start(self) -> StoreServer:
        with contextlib.suppress(FileNotFoundError):
            if self.path.is_socket():
                self.path.unlink()
        with _addressable(self.path) as address:
            server = _Server(address, _Handler, self.store)
            old_umask = os.umask(0o177)  # the socket file is born 0600: no window with looser permissions
            try:
                server.server_bind()
            finally:
                os.umask(old_umask)
            server.server_activate()
        self._inode = self.path.stat().st_ino
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="costbot-store-channel", daemon=True)
        self._thread.start()
        log.info("serving the cost store to local costbot commands on %s", self.path.name)
        return self

    def close(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server = None
        with contextlib.suppress(FileNotFoundError):
            if self.path.stat().st_ino == self._inode:
                self.path.unlink()


# -- a command's side -----------------------------------------------------------------------------------------
class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float | None) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            with _addressable(self.path) as address:
                sock.connect(address)
        except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError) as exc:
            sock.close()
            raise StoreGone(str(self.path)) from exc
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class StoreClient:
    """The cost store's ports (CostQueries, CostIngest, UsageMetrics) answered by the process that owns it.

    Raises StoreGone when nobody answers (nothing was sent), CostbotError with the owner's own message when the
    owner refused, and a CostbotError saying so when the connection broke during a call.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.owner_pid: int | None = None  # the owner's process id, once it answered a ping

    def ping(self) -> bool:
        """Whether an owner of our protocol answers on the socket."""
        if not self.path.exists():
            return False
        connection = _UnixConnection(self.path, timeout=5.0)
        try:
            connection.request("GET", "/v1/ping")
            response = connection.getresponse()
            answer = json.loads(response.read())
            if response.status != 200 or answer.get("protocol") != store_wire.VERSION:
                return False
            self.owner_pid = int(answer.get("pid") or 0) or None
            return True
        except (StoreGone, OSError, ValueError, http.client.HTTPException):
            return False
        finally:
            connection.close()

    def _call(self, method: str, **args: Any) -> Any:
        body = json.dumps({"protocol": store_wire.VERSION, "method": method,
                           "args": {k: store_wire.encode(v) for k, v in args.items()}})
        if len(body) > MAX_MESSAGE_BYTES:
            raise CostbotError(f"too much to send to the costbot service at once ({method})")
        connection = _UnixConnection(self.path, timeout=None if method in WRITES else READ_TIMEOUT)
        try:
            connection.connect()  # StoreGone: nothing was sent, the caller may look for another owner
            try:
                connection.request("POST", "/v1/call", body=body.encode(),
                                   headers={"Content-Type": "application/json"})
                response = connection.getresponse()
                payload = json.loads(response.read())
            except (OSError, ValueError, http.client.HTTPException):
                raise StoreBusy(f"lost the connection to the costbot service during {method}: it may have stopped "
                                "(an ingest it was running is rolled back unless it had finished)") from None
        finally:
            connection.close()
        if "error" in payload:
            raise store_wire.error_from(payload["error"])
        return store_wire.decode(payload.get("result"))

    # CostQueries
    def totals(self, spec: CostSpec, previous: tuple[date, date]) -> Totals:
        result: Totals = self._call("totals", spec=spec, previous=previous)
        return result

    def groups(self, spec: CostSpec, grouping: Grouping, top: int | None = None) -> list[tuple[str, Decimal]]:
        return [(str(k), v) for k, v in self._call("groups", spec=spec, grouping=grouping, top=top)]

    def daily(self, spec: CostSpec, grouping: Grouping) -> list[DailyRow]:
        return list(self._call("daily", spec=spec, grouping=grouping))

    def quantities(self, spec: CostSpec, grouping: Grouping) -> list[tuple[str, Decimal]]:
        return [(str(k), v) for k, v in self._call("quantities", spec=spec, grouping=grouping)]

    def freshness(self) -> date | None:
        result: date | None = self._call("freshness")
        return result

    def first_day(self) -> date | None:
        result: date | None = self._call("first_day")
        return result

    def distinct_values(self, column: str) -> list[str]:
        return [str(v) for v in self._call("distinct_values", column=column)]

    def tag_keys(self) -> tuple[str, ...]:
        return tuple(str(k) for k in self._call("tag_keys"))

    def tag_values(self, key: str) -> list[str]:
        return [str(v) for v in self._call("tag_values", key=key)]

    def resource_names(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self._call("resource_names").items()}

    def row_count(self) -> int:
        return int(self._call("row_count"))

    def sources(self) -> Sequence[tuple[str, int]]:
        return [(str(s), int(n)) for s, n in self._call("sources")]

    # CostIngest
    def ingest_files(
        self, paths: Iterable[Path], source: str | None = None,
        progress: Callable[[Path, int, int], None] | None = None, replace: Iterable[tuple[str, date]] = (),
        replace_sources: Iterable[str] = (), complements: Iterable[tuple[str, str]] = (),
    ) -> IngestSummary:
        """The owner reads the files itself (same machine, or the same volume): paths are sent absolute."""
        absolute = [Path(p).resolve() for p in paths]
        result: IngestSummary = self._call("ingest_files", paths=absolute, source=source, replace=list(replace),
                                           replace_sources=list(replace_sources), complements=list(complements))
        if progress is not None and absolute:
            progress(absolute[-1], len(absolute) - 1, len(absolute))
        return result

    def source_etags(self, source: str) -> dict[str, str]:
        return {str(k): str(v) for k, v in self._call("source_etags", source=source).items()}

    def record_source_files(self, source: str, etags: dict[str, str]) -> None:
        self._call("record_source_files", source=source, etags=etags)

    def record_sync(self, source: str) -> None:
        self._call("record_sync", source=source)

    def clear_periods(self, source: str, periods: Iterable[tuple[str, date]]) -> int:
        return int(self._call("clear_periods", source=source, periods=list(periods)))

    def fold_kept_files(self) -> int:
        return int(self._call("fold_kept_files"))

    def holdings(self) -> list[SourceHolding]:
        return list(self._call("holdings"))

    def commitments(self) -> CommitmentReport:
        result: CommitmentReport = self._call("commitments")
        return result

    # UsageMetrics
    def ingest_usage(self, path: Path) -> int:
        return int(self._call("ingest_usage", path=Path(path).resolve()))

    def usage_by_team(self, metric: str, start: date, end: date) -> dict[str, Decimal]:
        return {str(k): v for k, v in self._call("usage_by_team", metric=metric, start=start, end=end).items()}
