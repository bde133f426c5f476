"""The one place where errors raised by services become messages in Slack.

Listeners ack inside the HTTP request (`ack_now`) and do their work as Bolt lazy listeners on the listener
pool; Bolt only logs a lazy listener's exception, so each is wrapped with `@reported`, and `@app.error` catches
what fails outside them. Every wrapped listener must take `body` and `respond` parameters.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from slack_bolt import Ack, App, Respond

from bot.domain.errors import CostbotError
from bot.render import blocks

log = logging.getLogger("costbot.slack")

F = TypeVar("F", bound=Callable[..., Any])


def report(error: Exception, body: dict[str, Any], respond: Respond | None) -> None:
    if isinstance(error, CostbotError):
        message, text = blocks.error_blocks(error), str(error)
    else:
        ref = uuid.uuid4().hex[:8]
        log.error("unexpected error handling a Slack request (ref %s)", ref, exc_info=error)
        text = f"Something went wrong on costbot's side (ref {ref}); nothing was changed."
        message = blocks.error_blocks(CostbotError(text))
    if respond is not None and (body.get("response_url") or body.get("response_urls")):
        try:
            respond(blocks=message, text=text, response_type="ephemeral", replace_original=False)
        except Exception:
            log.exception("could not tell the user about an error")


def ack_now(ack: Ack) -> None:
    """The ack half of every listener: immediate and empty; the answer follows from the lazy half."""
    ack()


def reported(listener: F) -> F:
    @functools.wraps(listener)
    def wrapper(**kwargs: Any) -> Any:
        try:
            return listener(**kwargs)
        except Exception as exc:  # the one place: every listener error becomes a user message
            report(exc, kwargs.get("body") or {}, kwargs.get("respond"))
            return None

    return wrapper  # type: ignore[return-value]


def register(app: App) -> None:
    @app.error
    def on_error(error: Exception, body: dict[str, Any], respond: Respond) -> None:
        report(error, body, respond)
