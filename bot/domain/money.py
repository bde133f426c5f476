"""Money is Decimal everywhere in the domain; rounding happens only when a figure is shown."""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TypeVar

from bot.domain.errors import QueryError

CENT = Decimal("0.01")
ZERO = Decimal("0")
MAX_AMOUNT = Decimal("1000000000000")  # an amount a user types (a budget): a trillion is beyond any real one

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def to_cents(amount: Decimal) -> Decimal:
    """Round to the cent, half up, as invoices do."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


K = TypeVar("K", bound=Hashable)


def round_to_total(amounts: Mapping[K, Decimal], total: Decimal | None = None) -> dict[K, Decimal]:
    """Every amount in whole cents, so that the parts add up exactly to `total` rounded to the cent (default:
    the amounts' own sum): the largest-remainder method. Each amount is floored to the cent and the cents still
    missing go to the largest remainders (ties: the order of `amounts`), so no part moves by a cent or more.
    The one rounding of figures that are shown together with their total (groups, splits, export rows)."""
    keys = list(amounts)
    target = to_cents(sum(amounts.values(), ZERO) if total is None else total)
    floors = {k: amounts[k].quantize(CENT, rounding=ROUND_FLOOR) for k in keys}
    missing = int((target - sum(floors.values(), ZERO)) / CENT)
    if not keys:
        return {}
    order = sorted(range(len(keys)), key=lambda i: -(amounts[keys[i]] - floors[keys[i]]))
    if 0 <= missing <= len(keys):
        for i in order[:missing]:
            floors[keys[i]] += CENT
        return floors
    # the parts do not add up to `total` (a caller's inconsistency): the difference goes to the largest part
    rounded = {k: to_cents(v) for k, v in amounts.items()}
    largest = max(keys, key=lambda k: abs(amounts[k]))
    rounded[largest] += target - sum(rounded.values(), ZERO)
    return rounded


def format_money(amount: Decimal, currency: str = "USD", whole: bool = False) -> str:
    """`$1,234.56` (or `$1,235` when `whole`); other currencies read `1,234.56 CHF`."""
    cents = to_cents(amount)
    sign = "-" if cents < 0 else ""
    if whole:
        cents = cents.quantize(Decimal(1), rounding=ROUND_HALF_UP)
    body = f"{abs(cents):,.0f}" if whole else f"{abs(cents):,.2f}"
    symbol = _SYMBOLS.get(currency)
    if symbol:
        return f"{sign}{symbol}{body}"
    return f"{sign}{body} {currency}"


def percent_change(current: Decimal, previous: Decimal) -> Decimal | None:
    """Change in percent against `previous`; None when there is nothing to compare with."""
    if previous == 0:
        return None
    return (current - previous) / abs(previous) * 100


_AMOUNT = re.compile(r"-?\$?[0-9][0-9,]*(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def parse_amount(text: str) -> Decimal:
    """An amount a user typed (`25000`, `25,000`, `$1,500.50`): positive, whole cents, at most MAX_AMOUNT.
    Bounded so that it can be stored, summed and shown (`1e999999` is a valid Decimal, but not a budget)."""
    if not _AMOUNT.fullmatch(text.strip()):
        raise QueryError(f"'{text}' is not an amount: digits 0-9, e.g. 25000 or $25,000.50", word=text)
    raw = text.replace(",", "").replace("$", "")
    try:
        amount = Decimal(raw)
    except (InvalidOperation, ValueError):
        raise QueryError(f"'{text}' is not an amount", word=text) from None
    if not amount.is_finite():
        raise QueryError(f"'{text}' is not an amount", word=text)
    if amount <= 0:
        raise QueryError("a budget must be a positive amount", word=text)
    if amount > MAX_AMOUNT:
        raise QueryError(f"'{text}' is too large: amounts go up to {MAX_AMOUNT:,}", word=text)
    if amount != amount.quantize(CENT):
        raise QueryError(f"'{text}' has more than two decimal places (whole cents only)", word=text)
    return amount
