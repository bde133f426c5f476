"""A small Python API for training code: check the team's budget before a run starts.

    from bot.api import guard
    guard(team="team-ml", max_usd=500)   # raises GuardRefused (and tells the team's channel) when it does not fit

It reads costbot.yml and the cost store as the `costbot` command does (COSTBOT_CONFIG, COSTBOT_DATA_DIR, …).
"""

from __future__ import annotations

from decimal import Decimal

from bot.domain.estimate import GuardCheck, GuardRefused
from bot.domain.money import parse_amount

__all__ = ["GuardRefused", "guard"]


def guard(team: str, max_usd: Decimal | int | float | str, command: str = "", post: bool = True) -> GuardCheck:
    """Return the check when a run of at most `max_usd` fits `team`'s budget headroom this month (budget −
    forecast); raise GuardRefused otherwise, after posting the refusal to the team's channel (`post`)."""
    from bot.app import Application

    amount = parse_amount(str(max_usd))
    application = Application()
    try:
        check = application.use_cases.estimates.guard(team, amount, command, post=post)
    finally:
        application.close()
    if not check.allowed:
        raise GuardRefused(check)
    return check
