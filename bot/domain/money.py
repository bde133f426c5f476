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


#: currencies whose minor unit is not the cent (ISO 4217); every other has two decimal places
_MINOR_DIGITS = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "UGX": 0, "PYG": 0, "XAF": 0, "XOF": 0,
                 "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3, "LYD": 3, "IQD": 3}


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of the currency: 0.01 for USD, 1 for JPY, 0.001 for KWD."""
    return Decimal(1).scaleb(-_MINOR_DIGITS.get(currency, 2))


def plain_amount(amount: Decimal, currency: str) -> str:
    """An amount as finance's tools read it: a plain decimal in the currency's minor unit (`1718.75`, never
    `1718.750000000` or `0E-9`)."""
    unit = minor_unit(currency)
    return f"{amount.quantize(unit, rounding=ROUND_HALF_UP):f}"


def round_to_total(amounts: Mapping[K, Decimal], total: Decimal | None = None,
                   unit: Decimal = CENT) -> dict[K, Decimal]:
    """Every amount in whole cents (or `unit`s), so that the parts add up exactly to `total` rounded to the cent
    (default: the amounts' own sum): the largest-remainder method. Each amount is floored to the cent and the
    cents still missing go to the largest remainders (ties: the order of `amounts`), so no part moves by a cent
    or more.
    The one rounding of figures that are shown together with their total (groups, splits, export rows)."""
    keys = list(amounts)
    target = (sum(amounts.values(), ZERO) if total is None else total).quantize(unit, rounding=ROUND_HALF_UP)
    floors = {k: amounts[k].quantize(unit, rounding=ROUND_FLOOR) for k in keys}
    missing = int((target - sum(floors.values(), ZERO)) / unit)
    if not keys:
        return {}
    order = sorted(range(len(keys)), key=lambda i: -(amounts[keys[i]] - floors[keys[i]]))
    if 0 <= missing <= len(keys):
        for i in order[:missing]:
            floors[keys[i]] += unit
        return floors
    # the parts do not add up to `total` (a caller's inconsistency): the difference goes to the largest part
    rounded = {k: v.quantize(unit, rounding=ROUND_HALF_UP) for k, v in amounts.items()}
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
