"""The one place where errors raised by services become messages in Slack.

Listeners ack inside the HTTP request (`ack_now`) and do their work as Bolt lazy listeners on the listener
pool; Bolt only logs a lazy listener's exception, so each is wrapped with `@reported`, and `@app.error` catches
what fails outside them. Every wrapped listener must take `body` and `respond` parameters.

`@app.error` also sees errors raised before a request's signature was checked (Bolt's own verification runs
as a middleware). It answers only requests whose origin is known — Socket Mode (an authenticated websocket)
or HTTP requests the intake gate verified — so an unverified body's `response_url` is never called.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from slack_bolt import Ack, App, BoltRequest, BoltResponse, Respond
from slack_bolt.error import BoltUnhandledRequestError

from bot import telemetry
from bot.domain.errors import CostbotError
from bot.domain.query import SUBCOMMANDS
from bot.render.common import error_blocks
from bot.web import VERIFIED

log = logging.getLogger("costbot.slack")

F = TypeVar("F", bound=Callable[..., Any])
WORDS = frozenset(SUBCOMMANDS)


def report(error: Exception, body: dict[str, Any], respond: Respond | None) -> None:
    if isinstance(error, CostbotError):
        message, text = error_blocks(error), str(error)
    else:
        ref = uuid.uuid4().hex[:8]
        log.error("unexpected error handling a Slack request (ref %s)", ref, exc_info=error)
        text = f"Something went wrong on costbot's side (ref {ref}); nothing was changed."
        message = error_blocks(CostbotError(text))
    if respond is not None and (body.get("response_url") or body.get("response_urls")):
        try:
            respond(blocks=message, text=text, response_type="ephemeral", replace_original=False)
        except Exception:
            log.exception("could not tell the user about an error")


def ack_now(ack: Ack) -> None:
    """The ack half of every listener: immediate and empty; the answer follows from the lazy half."""
    ack()


def reported(listener: F) -> F:
    """Every listener's errors become a user message here; and each run is one log line and its metrics
    (who, what, how long, outcome: ok, refused — a CostbotError told to the user — or error)."""

    @functools.wraps(listener)
    def wrapper(**kwargs: Any) -> Any:
        body = kwargs.get("body") or {}
        started = time.monotonic()
        outcome = "ok"
        try:
            return listener(**kwargs)
        except Exception as exc:  # the one place: every listener error becomes a user message
            outcome = "refused" if isinstance(exc, CostbotError) else "error"
            report(exc, body, kwargs.get("respond"))
            return None
        finally:
            kind, name, user = telemetry.describe_request(body, WORDS)
            telemetry.request_handled(kind, name, user, outcome, time.monotonic() - started)

    return wrapper  # type: ignore[return-value]


def authenticated(request: BoltRequest) -> bool:
    """Socket Mode envelopes come over an authenticated websocket; HTTP requests must carry the gate's mark."""
    return request.mode == "socket_mode" or request.context.get(VERIFIED) is True


def register(app: App) -> None:
    @app.error
    def on_error(error: Exception, request: BoltRequest, respond: Respond) -> BoltResponse | None:
        if not authenticated(request):  # nothing from this request is trusted: no reply, no body in the log
            log.warning("refused a Slack request that failed before its signature was verified (%s)",
                        type(error).__name__)
            return BoltResponse(status=401, body="")
        if isinstance(error, BoltUnhandledRequestError):  # logged here so Bolt does not log the body
            kind = request.body.get("type") or request.body.get("command") or "unknown"
            log.info("no listener for a Slack %s request", str(kind)[:40])
            return None
        report(error, request.body, respond)
        return None
