"""Money is Decimal everywhere in the domain; rounding happens only when a figure is shown."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0")

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def to_cents(amount: Decimal) -> Decimal:
    """Round to the cent, half up, as invoices do."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


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
