"""Structured logs: JSON lines in production (COSTBOT_LOG_FORMAT=json, the default for `serve`), plain for humans.

Below WARNING, the libraries log what must never reach a log: Bolt logs request bodies (and rejected ones
whole), slack_sdk and urllib3 log request headers, botocore logs signed AWS requests with their session
tokens. So their records below WARNING are dropped at the handler, whatever COSTBOT_LOG_LEVEL says and
whatever level a library sets on its own loggers (Bolt copies the root level onto the loggers it makes).
Alembic's setup lines at every start are dropped the same way (bot/adapters/state/database.py logs one line
when it really migrates), as are APScheduler's job bookkeeping lines (each job run is one line of ours,
bot/telemetry.py; its warnings stay), and so is the one warning Bolt repeats at every start (NOISE).

A record may carry structured `fields` (bot/telemetry.py: who, what, how long, outcome): JSON lines carry them
as keys of their own.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

QUIET_LIBRARIES = ("slack_bolt", "slack_sdk", "botocore", "boto3", "s3transfer", "urllib3", "waitress.queue",
                   "alembic", "apscheduler")
#: warnings that say nothing an operator can act on: Bolt reads SLACK_BOT_TOKEN itself even though costbot hands
#: it a client (with retries and SLACK_API_URL) built from that same token
NOISE = frozenset({"As you gave `client` as well, `token` will be unused."})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update({k: v for k, v in fields.items() if k not in entry})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


class LibraryFloor(logging.Filter):
    """Lets a QUIET_LIBRARIES record through only at WARNING or above."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not is_quiet_library(record.name):
            return True
        return record.levelno >= logging.WARNING and record.getMessage() not in NOISE


def is_quiet_library(name: str) -> bool:
    return any(name == lib or name.startswith(lib + ".") for lib in QUIET_LIBRARIES)


def setup_logging(fmt: str = "json", level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(LibraryFloor())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in QUIET_LIBRARIES:  # spares the libraries building records that would be dropped anyway
        logging.getLogger(name).setLevel(logging.WARNING)
