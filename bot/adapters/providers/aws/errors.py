"""AWS errors as users may read them: the operation, a short reason and a reference; the rest of AWS's text
(which can name the role and the account and carry an encoded authorization message) goes to the log only."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bot.domain.errors import ProviderError

log = logging.getLogger("costbot.aws")

_REASONS = {
    "AccessDenied": "costbot's role is not allowed to do this",
    "AccessDeniedException": "costbot's role is not allowed to do this",
    "UnauthorizedOperation": "costbot's role is not allowed to do this",
    "IncorrectInstanceState": "the instance is not in a state that allows it",
    "IncorrectState": "the resource is not in a state that allows it",
    "InsufficientInstanceCapacity": "AWS has no capacity for that instance type right now",
    "InvalidInstanceID.NotFound": "the instance no longer exists",
    "ValidationException": "AWS rejected the request as invalid",
    "ResourceNotFound": "the resource no longer exists",
    "ThrottlingException": "AWS is throttling requests; try again shortly",
    "Throttling": "AWS is throttling requests; try again shortly",
    "RequestLimitExceeded": "AWS is throttling requests; try again shortly",
    "ExpiredToken": "costbot's AWS credentials have expired",
    "ExpiredTokenException": "costbot's AWS credentials have expired",
}


def aws_failure(what: str, exc: Exception) -> ProviderError:
    """A ProviderError users may see (operation, short reason, reference) with the full text logged."""
    reference = uuid.uuid4().hex[:8]
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code") or "Unknown")
        reason = _REASONS.get(code, "AWS returned an error")
        short = f"AWS {what} failed: {reason} ({code})"
    else:
        short = f"AWS {what} failed: AWS could not be reached"
    detail = f"{type(exc).__name__}: {exc}"
    log.warning("AWS %s failed (ref %s): %s", what, reference, detail)
    return ProviderError(short, detail=detail, reference=reference)


def call(what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
    """One AWS call; its failure as a ProviderError."""
    try:
        return fn(**kwargs)
    except (ClientError, BotoCoreError) as exc:
        raise aws_failure(what, exc) from exc


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code") or "")
